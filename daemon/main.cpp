// portcullis: the command line. `run` is the daemon; the other subcommands
// check and inspect (validate, explain, status, cache, config-reference).

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "daemon/admin/admin_commands.h"
#include "daemon/admin/control_command.h"
#include "daemon/admin/status_client.h"
#include "daemon/audit/audit.h"
#include "daemon/config/commands.h"
#include "daemon/config/config_schema.h"
#include "daemon/net/resolve_blocking.h"
#include "daemon/runtime/daemon.h"
#include "portcullis_version.h"

namespace portcullis {
namespace {

std::string versionText() {
  std::string v = std::string("portcullis ") + kVersion;
  if (kGitHash[0] != '\0') v += std::string(" (git ") + kGitHash + ")";
  return v;
}

}  // namespace
}  // namespace portcullis

int main(int argc, char** argv) {
  using namespace portcullis;
  CLI::App app{"Portcullis: a caching HTTP forward proxy that is closed by default."};
  app.set_version_flag("--version", versionText());
  app.require_subcommand(1);

  std::string configPath = "/etc/portcullis/portcullis.toml";
  bool allowRoot = false;
  auto* run = app.add_subcommand("run", "Run the proxy in the foreground (systemd runs it so).");
  run->add_option("-c,--config", configPath, "Configuration file")->capture_default_str();
  run->add_flag("--allow-root", allowRoot, "Keep running as root when no user is set");
  std::string userFlag;
  run->add_option("--user", userFlag,
                  "When started as root, drop privileges to this user after binding "
                  "(overrides [server] user)");

  bool strict = false;
  auto* validateCmd = app.add_subcommand(
      "validate", "Load and check the configuration exactly as run would; bind nothing.");
  validateCmd->add_option("-c,--config", configPath, "Configuration file")->capture_default_str();
  validateCmd->add_flag("--strict", strict, "Treat warnings as errors");
  bool againstRunning = false;
  validateCmd->add_flag("--against-running", againstRunning,
                        "Also ask the running daemon (admin listener) which changed keys "
                        "would need a restart");

  std::string from;
  std::string to;
  std::string method;
  bool resolve = false;
  auto* explainCmd = app.add_subcommand(
      "explain", "Say which rule decides a request, and why (before you reload).");
  explainCmd->add_option("-c,--config", configPath, "Configuration file")->capture_default_str();
  explainCmd->add_option("--from", from, "Client address")->required();
  explainCmd->add_option("--to", to, "URL (http://host/path) or HOST:PORT for CONNECT")->required();
  explainCmd->add_option("--method", method,
                         "Request method (default GET, or CONNECT for HOST:PORT)");
  explainCmd->add_flag("--resolve", resolve, "Resolve the host name and check every address");

  std::string adminAddress = "127.0.0.1:3129";
  bool follow = false;
  bool json = false;
  auto* statusCmd =
      app.add_subcommand("status", "Live figures from the running daemon's admin listener.");
  statusCmd->add_flag("-f,--follow", follow, "Stream recent requests like tail -f");
  statusCmd->add_flag("--json", json, "Print the raw JSON");
  std::string unblockIp;
  auto* unblockCmd = app.add_subcommand("unblock", "End the abuse guard's block of a client.");
  unblockCmd->add_option("ip", unblockIp, "Client IP address")->required();
  for (auto* sub : {statusCmd, unblockCmd}) {  // -c FILE: its [admin] listen; --admin wins
    sub->add_option("-c,--config", configPath, "Configuration file")->capture_default_str();
  }
  for (auto* sub : {statusCmd, unblockCmd, validateCmd}) {
    sub->add_option("--admin", adminAddress, "Admin address (host:port or unix:/path)")
        ->capture_default_str();
  }

  auto* cacheCmd = app.add_subcommand("cache", "Inspect or purge the disk cache.");
  cacheCmd->require_subcommand(1);
  std::string purgeUrl;
  auto* cacheStats = cacheCmd->add_subcommand("stats", "Objects and bytes stored.");
  auto* cachePurge = cacheCmd->add_subcommand("purge", "Remove every stored variant of a URL.");
  for (auto* sub : {cacheStats, cachePurge}) {
    sub->add_option("-c,--config", configPath, "Configuration file")->capture_default_str();
  }
  cachePurge->add_option("url", purgeUrl, "Absolute URL, e.g. http://example.org/page")->required();

  auto* reloadCmd =
      app.add_subcommand("reload", "Validate the config, then make the running daemon reload it.");
  auto* reopenCmd = app.add_subcommand(
      "reopen-logs", "Make the running daemon reopen its log files (after rotation).");
  for (auto* sub : {reloadCmd, reopenCmd}) {
    sub->add_option("-c,--config", configPath, "Configuration file")->capture_default_str();
  }

  std::string format = "markdown";
  auto* referenceCmd = app.add_subcommand(
      "config-reference", "Print the configuration reference (README and man page source).");
  referenceCmd->add_option("--format", format, "markdown or roff")
      ->check(CLI::IsMember({"markdown", "roff"}));
  referenceCmd->group("");  // hidden: a build tool, not an admin command

  // --- audit (daemon/audit/audit.h) ---
  audit::AuditOptions auditOptions;
  auto* auditCmd = app.add_subcommand(
      "audit", "Probe an HTTP proxy the way open-proxy scanners do; exit 1 if it is open.");
  auditCmd->add_option("--proxy", auditOptions.proxy, "HOST:PORT or [IPv6]:PORT of the proxy");
  auditCmd->add_flag("--json", auditOptions.json, "Print one JSON document instead of a table");
  auditCmd->add_option("--timeout", auditOptions.timeout, "Deadline per probe")
      ->capture_default_str();
  auditCmd->add_flag("--skip-metadata", auditOptions.skipMetadata,
                     "Do not probe 169.254.169.254 (the one target off this machine)");
  // --- end audit ---

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (run->parsed()) return runtime::Daemon({configPath, allowRoot, userFlag}).run();
  if (validateCmd->parsed() && againstRunning) {
    const admin::AdminTarget adminTarget{configPath, validateCmd->count("--config") > 0,
                                         adminAddress, validateCmd->count("--admin") > 0};
    return admin::runValidateAgainstRunning(adminTarget, strict, std::cout, std::cerr);
  }
  if (validateCmd->parsed()) return config::runValidate(configPath, strict, std::cout, std::cerr);
  if (explainCmd->parsed()) {
    return config::runExplain(
        configPath, from, to, method, std::cout, std::cerr,
        resolve ? config::HostResolver(&net::resolveBlocking) : config::HostResolver());
  }
  if (auditCmd->parsed()) return audit::runAudit(auditOptions, std::cout, std::cerr);
  if (statusCmd->parsed() || unblockCmd->parsed()) {
    auto* sub = statusCmd->parsed() ? statusCmd : unblockCmd;
    const admin::AdminTarget adminTarget{configPath, sub->count("--config") > 0, adminAddress,
                                         sub->count("--admin") > 0};
    if (unblockCmd->parsed())
      return admin::runUnblock(adminTarget, unblockIp, std::cout, std::cerr);
    admin::StatusOptions o;
    o.follow = follow;
    o.json = json;
    return admin::runStatus(adminTarget, o, std::cout, std::cerr);
  }
  if (cacheCmd->parsed()) {
    return admin::runCacheCommand(configPath, cachePurge->parsed(), purgeUrl, std::cout, std::cerr);
  }
  if (reloadCmd->parsed()) {
    return admin::runControl(configPath, admin::ControlAction::kReload, std::cout, std::cerr);
  }
  if (reopenCmd->parsed()) {
    return admin::runControl(configPath, admin::ControlAction::kReopenLogs, std::cout, std::cerr);
  }
  if (referenceCmd->parsed()) {
    std::cout << (format == "roff" ? config::configReferenceRoff()
                                   : config::configReferenceMarkdown());
    return 0;
  }
  return 2;
}
