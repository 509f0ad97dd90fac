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
#include "daemon/pac/pac_command.h"
#include "daemon/replay/replay_command.h"
#include "daemon/runtime/daemon.h"
#include "daemon/runtime/identity_commands.h"
#include "portcullis_version.h"

namespace portcullis {
namespace {

std::string versionText() {
  std::string v = std::string("portcullis ") + kVersion;
  if (kGitHash[0] != '\0') v += std::string(" (git ") + kGitHash + ")";
  return v;
}

/// Every option value and every subcommand, filled in by CLI11.
struct Cli {
  std::string configPath = "/etc/portcullis/portcullis.toml";
  bool allowRoot = false;
  std::string userFlag;
  bool strict = false;
  bool againstRunning = false;
  std::string from, to, method, explainUser, explainAt;
  bool resolve = false;
  replay::ReplayCommand replay;
  std::string adminAddress = "127.0.0.1:3129";
  bool follow = false;
  bool json = false;
  std::string unblockIp;
  std::string purgeUrl;
  std::string format = "markdown";
  audit::AuditOptions auditOptions;
  runtime::TlsInitCommand tlsInit;
  std::string passwdFile, passwdUser;
  bool passwdBcrypt = false;
  CLI::App *tls = nullptr, *tlsInitCmd = nullptr, *passwd = nullptr;
  CLI::App *run = nullptr, *validate = nullptr, *explain = nullptr, *status = nullptr,
           *unblock = nullptr, *cache = nullptr, *cachePurge = nullptr, *reload = nullptr,
           *reopen = nullptr, *reference = nullptr, *audit = nullptr, *pac = nullptr;
};

void addConfigOption(CLI::App* sub, Cli& c) {
  sub->add_option("-c,--config", c.configPath, "Configuration file")->capture_default_str();
}

/// run, validate, explain: the daemon and the checks of its config.
void declareConfigCommands(CLI::App& app, Cli& c) {
  c.run = app.add_subcommand("run", "Run the proxy in the foreground (systemd runs it so).");
  addConfigOption(c.run, c);
  c.run->add_flag("--allow-root", c.allowRoot, "Keep running as root when no user is set");
  c.run->add_option("--user", c.userFlag,
                    "When started as root, drop privileges to this user after binding "
                    "(overrides [server] user)");

  c.validate = app.add_subcommand(
      "validate", "Load and check the configuration exactly as run would; bind nothing.");
  addConfigOption(c.validate, c);
  c.validate->add_flag("--strict", c.strict, "Treat warnings as errors");
  c.validate->add_flag("--against-running", c.againstRunning,
                       "Also ask the running daemon (admin listener) which changed keys "
                       "would need a restart");

  c.explain = app.add_subcommand("explain",
                                 "Say which rule decides a request, and why (before you reload).");
  addConfigOption(c.explain, c);
  auto* from = c.explain->add_option("--from", c.from, "Client address");
  auto* to = c.explain->add_option("--to", c.to, "URL (http://host/path) or HOST:PORT for CONNECT");
  // Either one request (--from and --to) or a whole access log (--replay).
  auto* replay = c.explain->add_option(
      "--replay", c.replay.logPath,
      "Replay this JSON access log through the rules of -c (the candidate) and report which "
      "decisions would change; resolves no name");
  replay->excludes(from)->excludes(to);
  c.explain
      ->add_option("--current", c.replay.currentPath,
                   "With --replay: compare with this config's rules instead of the "
                   "decisions the log recorded")
      ->needs(replay);
  c.explain
      ->add_option("--examples", c.replay.examples,
                   "With --replay: examples shown per kind of change")
      ->needs(replay)
      ->capture_default_str();
  c.explain->add_option("--method", c.method,
                        "Request method (default GET, or CONNECT for HOST:PORT)");
  c.explain->add_flag("--resolve", c.resolve, "Resolve the host name and check every address");
  c.explain->add_option("--user", c.explainUser,
                        "Decide as for this logged-in user (and its [groups])");
  c.explain->add_option("--at", c.explainAt,
                        "Decide at this time, e.g. 2026-12-07T10:15 (local), ...Z, ...+01:00 "
                        "or \"2026-12-07T10:15 Europe/Paris\" (default: now)");

  c.pac = app.add_subcommand("pac", "Print the proxy auto-config (PAC) file made from the config.");
  addConfigOption(c.pac, c);

  c.reference = app.add_subcommand(
      "config-reference", "Print the configuration reference (README and man page source).");
  c.reference->add_option("--format", c.format, "markdown or roff")
      ->check(CLI::IsMember({"markdown", "roff"}));
  c.reference->group("");  // hidden: a build tool, not an admin command
}

/// status, unblock, cache, reload, reopen-logs: talk to the running daemon or its cache.
void declareAdminCommands(CLI::App& app, Cli& c) {
  c.status = app.add_subcommand("status", "Live figures from the running daemon's admin listener.");
  c.status->add_flag("-f,--follow", c.follow, "Stream recent requests like tail -f");
  c.status->add_flag("--json", c.json, "Print the raw JSON");
  c.unblock = app.add_subcommand("unblock", "End the abuse guard's block of a client.");
  c.unblock->add_option("ip", c.unblockIp, "Client IP address")->required();
  for (auto* sub : {c.status, c.unblock}) addConfigOption(sub, c);  // its [admin] listen
  for (auto* sub : {c.status, c.unblock, c.validate}) {             // --admin wins over -c
    sub->add_option("--admin", c.adminAddress, "Admin address (host:port or unix:/path)")
        ->capture_default_str();
  }

  c.cache = app.add_subcommand("cache", "Inspect or purge the disk cache.");
  c.cache->require_subcommand(1);
  auto* cacheStats = c.cache->add_subcommand("stats", "Objects and bytes stored.");
  c.cachePurge = c.cache->add_subcommand("purge", "Remove every stored variant of a URL.");
  for (auto* sub : {cacheStats, c.cachePurge}) addConfigOption(sub, c);
  c.cachePurge->add_option("url", c.purgeUrl, "Absolute URL, e.g. http://example.org/page")
      ->required();

  c.reload =
      app.add_subcommand("reload", "Validate the config, then make the running daemon reload it.");
  c.reopen = app.add_subcommand("reopen-logs",
                                "Make the running daemon reopen its log files (after rotation).");
  for (auto* sub : {c.reload, c.reopen}) addConfigOption(sub, c);
}

/// audit (daemon/audit/audit.h): probe a proxy from the outside.
void declareAuditCommand(CLI::App& app, Cli& c) {
  auto& o = c.auditOptions;
  c.audit = app.add_subcommand(
      "audit", "Probe an HTTP proxy the way open-proxy scanners do; exit 1 if it is open.");
  c.audit->add_option("--proxy", o.proxy, "HOST:PORT or [IPv6]:PORT of the proxy");
  c.audit->add_flag("--json", o.json, "Print one JSON document instead of a table");
  c.audit->add_option("--timeout", o.timeout, "Deadline per probe")->capture_default_str();
  c.audit->add_flag("--skip-metadata", o.skipMetadata,
                    "Do not probe 169.254.169.254 (the one target off this machine)");
}

/// tls init, passwd: set up the TLS proxy port and proxy users.
void declareIdentityCommands(CLI::App& app, Cli& c) {
  c.tls = app.add_subcommand("tls", "Certificates for the TLS proxy port.");
  c.tls->require_subcommand(1);
  c.tlsInitCmd = c.tls->add_subcommand(
      "init", "Write a local CA and a server certificate signed by it into DIR.");
  c.tlsInitCmd->add_option("dir", c.tlsInit.dir, "Directory for the four files")->required();
  c.tlsInitCmd
      ->add_option("--name", c.tlsInit.name, "The proxy's DNS name, e.g. proxy.school.example")
      ->required();
  c.tlsInitCmd->add_flag("--ip-loopback", c.tlsInit.loopback,
                         "Also valid for 127.0.0.1 and ::1 (tests, a proxy on the same host)");
  c.passwd = app.add_subcommand(
      "passwd",
      "Add or change a user in an [auth] users file (password read from standard input).");
  c.passwd->add_option("file", c.passwdFile, "Users file")->required();
  c.passwd->add_option("user", c.passwdUser, "User name")->required();
  c.passwd->add_flag("--bcrypt", c.passwdBcrypt, "bcrypt instead of yescrypt");
}

admin::AdminTarget adminTarget(const Cli& c, const CLI::App* sub) {
  return {c.configPath, sub->count("--config") > 0, c.adminAddress, sub->count("--admin") > 0};
}

/// Runs the one subcommand that was given.
int dispatch(const Cli& c) {
  if (c.run->parsed()) return runtime::Daemon({c.configPath, c.allowRoot, c.userFlag}).run();
  if (c.validate->parsed() && c.againstRunning) {
    return admin::runValidateAgainstRunning(adminTarget(c, c.validate), c.strict, std::cout,
                                            std::cerr);
  }
  if (c.validate->parsed()) {
    const int rc = config::runValidate(c.configPath, c.strict, std::cout, std::cerr);
    return rc != 0 ? rc : runtime::checkTlsPair(c.configPath, std::cerr);
  }
  if (c.explain->parsed() && !c.replay.logPath.empty()) {
    replay::ReplayCommand cmd = c.replay;
    cmd.candidatePath = c.configPath;
    return replay::runReplay(cmd, std::cout, std::cerr);
  }
  if (c.explain->parsed()) {
    if (c.from.empty() || c.to.empty()) {
      std::cerr << "explain: give --from and --to (one request) or --replay ACCESS_LOG\n";
      return 2;
    }
    return config::runExplain(
        c.configPath, c.from, c.to, c.method, std::cout, std::cerr,
        c.resolve ? config::HostResolver(&net::resolveBlocking) : config::HostResolver(),
        c.explainUser, c.explainAt);
  }
  if (c.pac->parsed()) return pac::runPac(c.configPath, std::cout, std::cerr);
  if (c.audit->parsed()) return audit::runAudit(c.auditOptions, std::cout, std::cerr);
  if (c.tls->parsed()) return runtime::runTlsInit(c.tlsInit, std::cout, std::cerr);
  if (c.passwd->parsed()) {
    return runtime::runPasswd(c.passwdFile, c.passwdUser, c.passwdBcrypt, std::cin, std::cout,
                              std::cerr);
  }
  if (c.unblock->parsed()) {
    return admin::runUnblock(adminTarget(c, c.unblock), c.unblockIp, std::cout, std::cerr);
  }
  if (c.status->parsed()) {
    admin::StatusOptions o;
    o.follow = c.follow;
    o.json = c.json;
    return admin::runStatus(adminTarget(c, c.status), o, std::cout, std::cerr);
  }
  if (c.cache->parsed()) {
    return admin::runCacheCommand(c.configPath, c.cachePurge->parsed(), c.purgeUrl, std::cout,
                                  std::cerr);
  }
  if (c.reload->parsed()) {
    return admin::runControl(c.configPath, admin::ControlAction::kReload, std::cout, std::cerr);
  }
  if (c.reopen->parsed()) {
    return admin::runControl(c.configPath, admin::ControlAction::kReopenLogs, std::cout, std::cerr);
  }
  if (c.reference->parsed()) {
    std::cout << (c.format == "roff" ? config::configReferenceRoff()
                                     : config::configReferenceMarkdown());
    return 0;
  }
  return 2;
}

}  // namespace
}  // namespace portcullis

int main(int argc, char** argv) {
  using namespace portcullis;
  CLI::App app{"Portcullis: a caching HTTP forward proxy that is closed by default."};
  app.set_version_flag("--version", versionText());
  app.require_subcommand(1);
  Cli cli;
  declareConfigCommands(app, cli);
  declareAdminCommands(app, cli);
  declareAuditCommand(app, cli);
  declareIdentityCommands(app, cli);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return dispatch(cli);
}
