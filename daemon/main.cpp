// portcullis: the command line. `run` is the daemon; the other subcommands
// check and inspect (validate, explain, status, cache, config-reference).

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cache/cache.h"
#include "cache/cache_admin.h"
#include "daemon/admin/admin_commands.h"
#include "daemon/admin/admin_server.h"
#include "daemon/admin/control_command.h"
#include "daemon/admin/stats.h"
#include "daemon/admin/status_client.h"
#include "daemon/audit/audit.h"
#include "daemon/config/commands.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/config_schema.h"
#include "daemon/config/reload_contract.h"
#include "daemon/config/self_endpoints.h"
#include "daemon/log/access_record.h"
#include "daemon/log/event_log.h"
#include "daemon/log/log_sink.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/net/resolve_blocking.h"
#include "daemon/os/instance_lock.h"
#include "daemon/os/privileges.h"
#include "daemon/os/sd_notify.h"
#include "daemon/proxy/abuse_admin.h"
#include "daemon/proxy/server.h"
#include "portcullis_version.h"

namespace portcullis {
namespace {

std::string versionText() {
  std::string v = std::string("portcullis ") + kVersion;
  if (kGitHash[0] != '\0') v += std::string(" (git ") + kGitHash + ")";
  return v;
}

void printDiagnostics(const std::vector<config::Diagnostic>& diagnostics) {
  for (const auto& d : diagnostics) std::cerr << d.format() << "\n";
}

/// Everything `run` keeps alive while the loops turn.
struct Daemon {
  os::PidLock pidFile;    // released last: held while the daemon lives
  os::PidLock cacheLock;  // DIR/portcullis.lock, one daemon per cache directory
  std::string configPath;
  std::shared_ptr<const config::Config> config;
  config::LogFormat accessFormat = config::LogFormat::kJson;  ///< as at start-up
  log::EventLog events;
  log::LogSink access;
  admin::Stats stats{std::chrono::system_clock::now()};
  std::unique_ptr<admin::AdminServer> admin;
  std::unique_ptr<cache::Cache> cache;
  net::EventPtr cacheGauge;
  std::unique_ptr<proxy::Server> server;
  net::EventBasePtr base;
  std::vector<net::EventPtr> signals;
  bool stopping = false;
};

std::string formatAccess(config::LogFormat format, const log::AccessRecord& r) {
  switch (format) {
    case config::LogFormat::kSquid: return log::formatSquid(r);
    case config::LogFormat::kCombined: return log::formatCombined(r);
    case config::LogFormat::kJson: break;
  }
  return log::formatJson(r);
}

/// The sockets this daemon listens on (ports the kernel chose included):
/// never a destination (hard:self).
std::vector<acl::SelfAddresses::Endpoint> boundEndpoints(const Daemon& d) {
  std::vector<acl::SelfAddresses::Endpoint> out;
  for (const auto& a : d.server->boundAddresses()) {
    if (auto ip = a.ip()) out.emplace_back(*ip, a.port());
  }
  std::string err;
  if (d.admin) {
    if (auto la = config::parseListenAddress(d.admin->boundAddress(), err)) {
      out.emplace_back(*acl::IpAddress::parse(la->host), la->port);
    }
  }
  return out;
}

void reload(Daemon& d) {
  os::sdNotify(os::reloadingState());
  auto loaded = config::loadConfigFile(d.configPath);
  std::string diagnostics;
  for (const auto& diag : loaded.diagnostics) {
    if (!diagnostics.empty()) diagnostics += "\n";
    diagnostics += diag.format();
  }
  if (!loaded.config) {
    // The old rules keep running: a broken file never opens or closes anything.
    d.stats.reloadFinished(false, diagnostics);
    d.events.emit(log::Level::kError, "reload_failed",
                  {{"config", d.configPath}, {"diagnostics", diagnostics}});
    os::sdNotify("READY=1\nSTATUS=reload failed; previous configuration kept");
    return;
  }
  // Restart-only keys keep their start-up value (the daemon never applies
  // them half-way); the event says which ones changed.
  std::string restartRequired;
  for (const auto& key : config::restartOnlyChanges(*d.config, *loaded.config)) {
    restartRequired += (restartRequired.empty() ? "" : ", ") + key;
  }
  d.config = config::withBoundEndpoints(*loaded.config, boundEndpoints(d));
  d.server->reload(d.config);
  d.stats.reloadFinished(true);
  d.stats.setConnectionLimit(loaded.config->server.maxConnections);
  if (d.admin) (void)d.admin->setAllowList(loaded.config->admin.allow);
  d.events.emit(
      log::Level::kInfo, "reload",
      {{"config", d.configPath}, {"warnings", diagnostics}, {"restart_required", restartRequired}});
  os::sdNotify("READY=1\nSTATUS=serving");
}

void onSignal(evutil_socket_t sig, short, void* arg) noexcept {
  auto* d = static_cast<Daemon*>(arg);
  try {
    switch (sig) {
      case SIGHUP: reload(*d); break;
      case SIGUSR1:
        d->access.reopen();
        d->events.sink().reopen();
        d->events.emit(log::Level::kInfo, "logs_reopened");
        break;
      case SIGTERM:
      case SIGINT:
        if (d->stopping) break;
        d->stopping = true;
        os::sdNotify("STOPPING=1");
        d->events.emit(log::Level::kInfo, "stopping", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
        d->server->beginShutdown();
        event_base_loopexit(d->base.get(), nullptr);
        break;
      default: break;
    }
  } catch (...) {
    // Never let an exception out of a libevent callback.
  }
}

cache::CacheOptions cacheOptions(const config::CacheConfig& c) {
  cache::CacheOptions o;
  o.dir = c.dir;
  o.maxSize = c.maxSize;
  o.maxObjectSize = c.maxObjectSize;
  o.memorySize = c.memorySize;
  o.memoryMaxObjectSize = c.memoryMaxObjectSize;
  o.minFreeDisk = c.minFreeDisk;
  o.eviction = c.eviction == config::EvictionPolicy::kLru ? cache::EvictionKind::kLru
                                                          : cache::EvictionKind::kS3Fifo;
  o.fsync = c.fsync == config::FsyncPolicy::kAlways ? cache::FsyncPolicy::kData
                                                    : cache::FsyncPolicy::kNone;
  return o;
}

void onCacheGauge(evutil_socket_t, short, void* arg) noexcept {
  auto* d = static_cast<Daemon*>(arg);
  try {
    if (d->cache) {
      auto st = d->cache->stats();
      d->stats.setCacheUsage(st.bytes, st.objects, st.memoryBytes, st.memoryObjects);
    }
  } catch (...) {
  }
}

int runDaemon(const std::string& path, bool allowRoot, const std::string& userFlag) {
  evthread_use_pthreads();
  signal(SIGPIPE, SIG_IGN);
  Daemon d;
  d.configPath = path;
  auto loaded = config::loadConfigFile(path);
  printDiagnostics(loaded.diagnostics);
  if (!loaded.config) {
    std::cerr << "portcullis: not starting: the configuration has errors\n";
    return 1;
  }
  d.config = loaded.config;
  d.accessFormat = d.config->log.accessFormat;
  // --user wins over [server] user, like a command-line option over the file
  // (the quick start's `make run` uses it when started as root).
  const std::string dropUser = userFlag.empty() ? d.config->server.user : userFlag;
  auto rootAction = os::decideRootAction(os::runningAsRoot(), dropUser, allowRoot);
  if (rootAction == os::RootAction::kRefuse) {
    std::cerr << "portcullis: refusing to run as root: set [server] user = \"portcullis\" "
                 "or pass --user NAME (privileges are dropped after binding), or pass --allow-root\n";
    return 1;
  }
  // Before binding: with SO_REUSEPORT a second daemon would share the port.
  if (auto r = os::checkNotRunning(*d.config); !r.ok()) {
    std::cerr << "portcullis: not starting: " << r.error().message << "\n";
    return 1;
  }
  proxy::ProxyHooks hooks;
  hooks.clientEvent = [&d](std::string_view event, const std::string& client,
                           std::string_view detail) {
    if (detail.empty()) {
      d.events.emit(log::Level::kWarn, event, {{"client", client}});
    } else {
      d.events.emit(log::Level::kWarn, event, {{"client", client}, {"limit", detail}});
    }
  };
  hooks.cacheEvent = [&d](std::string_view event, std::string_view detail) {
    // Once per change: proxying goes on uncached meanwhile.
    if (detail.empty()) {
      d.events.emit(log::Level::kInfo, event);
    } else {
      d.events.emit(log::Level::kWarn, event, {{"error", detail}});
    }
  };
  hooks.access = [&d](const log::AccessRecord& r) {
    // The start-up format: the file was opened for it (log.access_format is restart-only).
    if (d.access.isOpen()) d.access.submit(formatAccess(d.accessFormat, r));
  };
  d.server = std::make_unique<proxy::Server>(d.config, d.stats, std::move(hooks));
  d.stats.setBlockedClientsSource(proxy::blockedClientsSource(*d.server));
  d.stats.setConnectionLimit(d.config->server.maxConnections);
  d.stats.setWorkerCount(d.config->server.workers);
  if (auto r = d.server->bind(); !r.ok()) {
    std::cerr << "portcullis: " << r.error().message << "\n";
    return 1;
  }
  if (!d.config->server.pidFile.empty()) {
    // Written before dropping privileges, like nginx's, so it may live in /run.
    auto pid = os::takePidFile(d.config->server.pidFile);
    if (!pid.ok()) {
      std::cerr << "portcullis: not starting: " << pid.error().message << "\n";
      return 1;
    }
    d.pidFile = std::move(pid.value());
  }
  if (rootAction == os::RootAction::kDrop) {
    // The run user may not be able to create the cache directory itself.
    if (d.config->cache.enabled) {
      if (auto r = os::createDirFor(d.config->cache.dir, dropUser); !r.ok()) {
        std::cerr << "portcullis: cache: " << r.error().message << "\n";
        return 1;
      }
    }
    if (auto r = os::dropPrivileges(dropUser); !r.ok()) {
      std::cerr << "portcullis: cannot drop privileges: " << r.error().message << "\n";
      return 1;
    }
  }
  // Logs and the cache are opened as the user that will write them, so a
  // reopen after rotation and a later start under systemd can use them.
  if (auto r = d.events.open(d.config->log.events); !r.ok()) {
    std::cerr << "portcullis: event log: " << r.error().message << "\n";
    return 1;
  }
  if (!d.config->log.access.empty()) {
    if (auto r = d.access.open(d.config->log.access, 1); !r.ok()) {
      std::cerr << "portcullis: access log: " << r.error().message << "\n";
      return 1;
    }
  }
  if (d.config->cache.enabled) {
    auto lock = os::lockCacheDir(d.config->cache.dir);
    if (!lock.ok()) {
      std::cerr << "portcullis: not starting: " << lock.error().message << "\n";
      return 1;
    }
    d.cacheLock = std::move(lock.value());
    auto opened = cache::Cache::open(cacheOptions(d.config->cache));
    if (!opened.ok()) {
      std::cerr << "portcullis: cache: " << opened.error().message << "\n";
      return 1;
    }
    d.cache = std::move(opened.value());
    d.server->setCache(d.cache.get());
    d.stats.setCacheLimit(d.config->cache.maxSize);
  }
  {
    std::vector<std::pair<std::string, const log::LogSink*>> sinks{{"events", &d.events.sink()}};
    if (d.access.isOpen()) sinks.emplace_back("access", &d.access);
    d.stats.setLogSinks(std::move(sinks));
  }
  if (!d.config->admin.listen.empty()) {
    // Bound before privileges drop (a Unix socket may live under /run).
    d.admin = std::make_unique<admin::AdminServer>(d.stats);
    d.admin->setUnblockHandler(proxy::unblockHandler(*d.server));
    if (d.cache) {
      d.admin->setPurgeHandler([&d](std::string_view url) -> Result<std::string> {
        auto n = d.cache->purge(url);
        if (!n.ok()) return n.error();
        return "purged " + std::to_string(*n) + " object(s)";
      });
    }
    d.admin->setControlHandler([](std::string_view action) -> Result<std::string> {
      // The same path as the signals systemd and logrotate send.
      ::kill(::getpid(), action == "reload" ? SIGHUP : SIGUSR1);
      return std::string(action == "reload"
                             ? "reload requested: the event log says reload or reload_failed"
                             : "log reopen requested");
    });
    if (auto r = d.admin->start(d.config->admin.listen, d.config->admin.allow); !r.ok()) {
      std::cerr << "portcullis: admin listener: " << r.error().message << "\n";
      return 1;
    }
  }
  d.base.reset(event_base_new());
  for (int sig : {SIGHUP, SIGUSR1, SIGTERM, SIGINT}) {
    d.signals.emplace_back(evsignal_new(d.base.get(), sig, &onSignal, &d));
    evsignal_add(d.signals.back().get(), nullptr);
  }
  if (d.cache) {
    d.cacheGauge.reset(event_new(d.base.get(), -1, EV_PERSIST, &onCacheGauge, &d));
    timeval second{1, 0};
    event_add(d.cacheGauge.get(), &second);
  }
  d.config = config::withBoundEndpoints(*d.config, boundEndpoints(d));
  d.server->reload(d.config);
  d.server->start();
  std::string addresses;
  for (const auto& a : d.server->boundAddresses()) {
    if (!addresses.empty()) addresses += " ";
    addresses += a.toString();
  }
  d.events.emit(log::Level::kInfo, "ready",
                {{"version", kVersion},
                 {"listen", addresses},
                 {"workers", d.config->server.workers},
                 {"admin", d.admin ? d.admin->boundAddress() : std::string()},
                 {"config", path}});
  os::sdNotify("READY=1\nSTATUS=serving");
  event_base_dispatch(d.base.get());
  d.server->join();
  if (d.admin) d.admin->stop();
  d.server.reset();  // sessions (and their cache writers) go before the cache
  d.cache.reset();
  d.events.emit(log::Level::kInfo, "stopped");
  d.access.stop();
  d.events.sink().stop();
  d.cacheLock.release(false);
  d.pidFile.release(true);
  return 0;
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

  std::string from;
  std::string to;
  std::string method;
  bool resolve = false;
  auto* explainCmd = app.add_subcommand(
      "explain", "Say which rule decides a request, and why (before you reload).");
  explainCmd->add_option("-c,--config", configPath, "Configuration file")->capture_default_str();
  explainCmd->add_option("--from", from, "Client address")->required();
  explainCmd->add_option("--to", to, "URL (http://host/path) or HOST:PORT for CONNECT")->required();
  explainCmd->add_option("--method", method, "Request method (default GET, or CONNECT for HOST:PORT)");
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
  auditCmd->add_option("--timeout", auditOptions.timeout, "Deadline per probe")->capture_default_str();
  auditCmd->add_flag("--skip-metadata", auditOptions.skipMetadata,
                     "Do not probe 169.254.169.254 (the one target off this machine)");
  // --- end audit ---

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (run->parsed()) return runDaemon(configPath, allowRoot, userFlag);
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
    std::cout << (format == "roff" ? config::configReferenceRoff() : config::configReferenceMarkdown());
    return 0;
  }
  return 2;
}
