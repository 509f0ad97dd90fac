#include "daemon/runtime/daemon.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>

#include "daemon/admin/time_rules.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/reload_contract.h"
#include "daemon/config/self_endpoints.h"
#include "daemon/log/access_record.h"
#include "daemon/os/instance_lock.h"
#include "daemon/os/sd_notify.h"
#include "daemon/pac/pac_file.h"
#include "daemon/proxy/abuse_admin.h"
#include "daemon/proxy/parent_admin.h"
#include "portcullis_version.h"

namespace portcullis::runtime {

namespace {

std::string formatAccess(config::LogFormat format, const log::AccessRecord& r) {
  switch (format) {
    case config::LogFormat::kSquid:
      return log::formatSquid(r);
    case config::LogFormat::kCombined:
      return log::formatCombined(r);
    case config::LogFormat::kJson:
      break;
  }
  return log::formatJson(r);
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

std::shared_ptr<const admin::PacContent> pacContent(const config::Config& config) {
  return std::make_shared<const admin::PacContent>(
      admin::PacContent{pac::renderPacFile(config), config.policy, config.pac.clients});
}

// Start-up refusals all read "portcullis: <what>: <why>".
bool refuse(std::string_view what, std::string_view why) {
  std::cerr << "portcullis: " << what << why << "\n";
  return false;
}

}  // namespace

Daemon::Daemon(RunOptions options) : options_(std::move(options)) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  evthread_use_pthreads();
  signal(SIGPIPE, SIG_IGN);
  if (!loadConfig() || !bindAndDropPrivileges() || !openLogs() || !openCache() || !startAdmin()) {
    return 1;
  }
  installLoopEvents();
  config_ = config::withBoundEndpoints(*config_, boundEndpoints());
  startup_ = config_;
  stats_.setRestartOnlyValues(config::restartOnlyValues(*startup_));
  server_->reload(config_);
  server_->start();
  announceReady();
  event_base_dispatch(base_.get());
  shutdown();
  return 0;
}

bool Daemon::loadConfig() {
  auto loaded = config::loadConfigFile(options_.configPath);
  for (const auto& d : loaded.diagnostics) std::cerr << d.format() << "\n";
  if (!loaded.config) {
    return refuse("not starting: ", "the configuration has errors");
  }
  config_ = loaded.config;
  // --user wins over [server] user, like a command-line option over the file
  // (the quick start's `make run` uses it when started as root).
  dropUser_ = options_.user.empty() ? config_->server.user : options_.user;
  rootAction_ = os::decideRootAction(os::runningAsRoot(), dropUser_, options_.allowRoot);
  if (rootAction_ == os::RootAction::kRefuse) {
    return refuse("refusing to run as root: ",
                  "set [server] user = \"portcullis\" or pass --user NAME (privileges are "
                  "dropped after binding), or pass --allow-root");
  }
  // Before binding: with SO_REUSEPORT a second daemon would share the port.
  if (auto r = os::checkNotRunning(*config_); !r.ok()) {
    return refuse("not starting: ", r.error().message);
  }
  return true;
}

proxy::ProxyHooks Daemon::makeHooks() {
  proxy::ProxyHooks hooks;
  hooks.clientEvent = [this](std::string_view event, const std::string& client,
                             std::string_view detail) {
    if (detail.empty()) {
      events_.emit(log::Level::kWarn, event, {{"client", client}});
    } else {
      events_.emit(log::Level::kWarn, event, {{"client", client}, {"limit", detail}});
    }
  };
  hooks.cacheEvent = [this](std::string_view event, std::string_view detail) {
    // Once per change: proxying goes on uncached meanwhile.
    if (detail.empty()) {
      events_.emit(log::Level::kInfo, event);
    } else {
      events_.emit(log::Level::kWarn, event, {{"error", detail}});
    }
  };
  hooks.parentEvent = [this](std::string_view event, std::string_view detail) {
    events_.emit(log::Level::kWarn, event, {{"error", detail}});
  };
  // The start-up format: the file was opened for it (log.access_format is restart-only).
  hooks.access = [this, format = config_->log.accessFormat](const log::AccessRecord& r) {
    if (access_.isOpen()) access_.submit(formatAccess(format, r));
  };
  return hooks;
}

bool Daemon::bindAndDropPrivileges() {
  server_ = std::make_unique<proxy::Server>(config_, stats_, makeHooks());
  stats_.setBlockedClientsSource(proxy::blockedClientsSource(*server_));
  stats_.setParentsSource(proxy::parentFiguresSource(*server_));
  stats_.setTimeRulesSource([server = server_.get()](SystemTime now) {
    return admin::timeRulesOf(*server->config()->policy, now);
  });
  stats_.setConnectionLimit(config_->server.maxConnections);
  stats_.setWorkerCount(config_->server.workers);
  if (auto r = server_->bind(); !r.ok()) return refuse("", r.error().message);
  if (!config_->pac.listen.empty()) {
    // Bound as root: WPAD by DNS wants port 80.
    pac_ = std::make_unique<admin::PacServer>();
    auto refused = [this](std::string_view client, std::string_view why) {
      events_.emit(log::Level::kWarn, "pac_refused", {{"client", client}, {"reason", why}});
    };
    if (auto r = pac_->start(config_->pac.listen, pacContent(*config_), refused); !r.ok()) {
      return refuse("pac listener: ", r.error().message);
    }
  }
  if (!server_->parentTlsErrors().empty()) {
    events_.emit(log::Level::kWarn, "parent_tls", {{"error", server_->parentTlsErrors()}});
  }
  if (!server_->tproxyWarning().empty()) {
    events_.emit(log::Level::kWarn, "transparent_no_tproxy", {{"error", server_->tproxyWarning()}});
  }
  if (!config_->server.listenTls.empty()) {
    // Read before privileges drop, like the sockets; a reload re-reads the
    // pair as the run user.
    auto tls = net::TlsServerContext::load(config_->server.tlsCertificate, config_->server.tlsKey);
    if (!tls.ok()) return refuse("TLS proxy port: ", tls.error().message);
    server_->setTlsContext(std::move(tls.value()));
  }
  if (!config_->server.pidFile.empty()) {
    // Written before dropping privileges, like nginx's, so it may live in /run.
    auto pid = os::takePidFile(config_->server.pidFile);
    if (!pid.ok()) return refuse("not starting: ", pid.error().message);
    pidFile_ = std::move(pid.value());
  }
  if (rootAction_ == os::RootAction::kDrop) {
    // The run user may not be able to create the cache directory itself.
    if (config_->cache.enabled) {
      if (auto r = os::createDirFor(config_->cache.dir, dropUser_); !r.ok()) {
        return refuse("cache: ", r.error().message);
      }
    }
    if (auto r = os::dropPrivileges(dropUser_); !r.ok()) {
      return refuse("cannot drop privileges: ", r.error().message);
    }
  }
  return true;
}

bool Daemon::openLogs() {
  // Logs and the cache are opened as the user that will write them, so a
  // reopen after rotation and a later start under systemd can use them.
  if (auto r = events_.open(config_->log.events); !r.ok()) {
    return refuse("event log: ", r.error().message);
  }
  if (!config_->log.access.empty()) {
    if (auto r = access_.open(config_->log.access, 1); !r.ok()) {
      return refuse("access log: ", r.error().message);
    }
  }
  std::vector<std::pair<std::string, const log::LogSink*>> sinks{{"events", &events_.sink()}};
  if (access_.isOpen()) sinks.emplace_back("access", &access_);
  stats_.setLogSinks(std::move(sinks));
  return true;
}

bool Daemon::openCache() {
  if (!config_->cache.enabled) return true;
  auto lock = os::lockCacheDir(config_->cache.dir);
  if (!lock.ok()) return refuse("not starting: ", lock.error().message);
  cacheLock_ = std::move(lock.value());
  auto opened = cache::Cache::open(cacheOptions(config_->cache));
  if (!opened.ok()) return refuse("cache: ", opened.error().message);
  cache_ = std::move(opened.value());
  server_->setCache(cache_.get());
  stats_.setCacheLimit(config_->cache.maxSize);
  return true;
}

bool Daemon::startAdmin() {
  if (config_->admin.listen.empty()) return true;
  // Bound before privileges drop (a Unix socket may live under /run).
  admin_ = std::make_unique<admin::AdminServer>(stats_);
  admin_->setUnblockHandler(proxy::unblockHandler(*server_));
  if (cache_) {
    admin_->setPurgeHandler([this](std::string_view url) -> Result<std::string> {
      // The live rules: a real URL of an aliased object purges its identity's key.
      const auto config = server_->config();
      auto n = cache_->purge(url, config->cache.rules.get());
      if (!n.ok()) return n.error();
      return "purged " + std::to_string(*n) + " object(s)";
    });
  }
  admin_->setControlHandler([](std::string_view action) -> Result<std::string> {
    // The same path as the signals systemd and logrotate send.
    ::kill(::getpid(), action == "reload" ? SIGHUP : SIGUSR1);
    return std::string(action == "reload"
                           ? "reload requested: the event log says reload or reload_failed"
                           : "log reopen requested");
  });
  if (auto r = admin_->start(config_->admin.listen, config_->admin.allow); !r.ok()) {
    return refuse("admin listener: ", r.error().message);
  }
  return true;
}

void Daemon::installLoopEvents() {
  base_.reset(event_base_new());
  for (int sig : {SIGHUP, SIGUSR1, SIGTERM, SIGINT}) {
    signals_.emplace_back(evsignal_new(base_.get(), sig, &Daemon::onSignal, this));
    evsignal_add(signals_.back().get(), nullptr);
  }
  if (cache_) {
    cacheGauge_.reset(event_new(base_.get(), -1, EV_PERSIST, &Daemon::onCacheGauge, this));
    timeval second{1, 0};
    event_add(cacheGauge_.get(), &second);
  }
}

void Daemon::announceReady() {
  std::string addresses;
  for (const auto& a : server_->boundAddresses()) {
    if (!addresses.empty()) addresses += " ";
    addresses += a.toString();
  }
  std::string transparent;
  for (const auto& a : server_->boundTransparent()) {
    if (!transparent.empty()) transparent += " ";
    transparent += a.toString();
  }
  std::string tlsAddresses;
  for (const auto& a : server_->boundTlsAddresses()) {
    tlsAddresses += (tlsAddresses.empty() ? "" : " ") + a.toString();
  }
  events_.emit(log::Level::kInfo, "ready",
               {{"version", kVersion},
                {"listen", addresses},
                {"listen_transparent", transparent},
                {"listen_tls", tlsAddresses},
                {"workers", config_->server.workers},
                {"admin", admin_ ? admin_->boundAddress() : std::string()},
                {"pac", pacAddresses()},
                {"config", options_.configPath}});
  os::sdNotify("READY=1\nSTATUS=serving");
}

void Daemon::shutdown() {
  server_->join();
  if (admin_) admin_->stop();
  if (pac_) pac_->stop();
  server_.reset();  // sessions (and their cache writers) go before the cache
  cache_.reset();
  events_.emit(log::Level::kInfo, "stopped");
  access_.stop();
  events_.sink().stop();
  cacheLock_.release(false);
  pidFile_.release(true);
}

std::vector<acl::SelfAddresses::Endpoint> Daemon::boundEndpoints() const {
  // Never a destination (hard:self), ports the kernel chose included.
  std::vector<acl::SelfAddresses::Endpoint> out;
  for (const auto* list : {&server_->boundAddresses(), &server_->boundTlsAddresses()}) {
    for (const auto& a : *list) {
      if (auto ip = a.ip()) out.emplace_back(*ip, a.port());
    }
  }
  for (const auto& a : server_->boundTransparent()) {
    if (auto ip = a.ip()) out.emplace_back(*ip, a.port());
  }
  std::string err;
  if (admin_) {
    if (auto la = config::parseListenAddress(admin_->boundAddress(), err)) {
      out.emplace_back(*acl::IpAddress::parse(la->host), la->port);
    }
  }
  if (pac_) {
    for (const auto& la : pac_->boundAddresses()) {
      if (auto ip = acl::IpAddress::parse(la.host)) out.emplace_back(*ip, la.port);
    }
  }
  return out;
}

std::string Daemon::pacAddresses() const {
  std::string out;
  if (pac_) {
    for (const auto& la : pac_->boundAddresses()) out += (out.empty() ? "" : " ") + la.text;
  }
  return out;
}

void Daemon::reload() {
  os::sdNotify(os::reloadingState());
  auto loaded = config::loadConfigFile(options_.configPath);
  std::string diagnostics;
  for (const auto& diag : loaded.diagnostics) {
    if (!diagnostics.empty()) diagnostics += "\n";
    diagnostics += diag.format();
  }
  std::shared_ptr<const net::TlsServerContext> tls;
  if (loaded.config && !startup_->server.listenTls.empty()) {
    // A pair that does not load fails the reload like a config error:
    // new handshakes go on with the pair in force.
    auto pair = net::TlsServerContext::load(loaded.config->server.tlsCertificate,
                                            loaded.config->server.tlsKey);
    if (pair.ok()) {
      tls = std::move(pair.value());
    } else {
      diagnostics += (diagnostics.empty() ? "" : "\n") + options_.configPath +
                     ": error: TLS proxy port: " + pair.error().message +
                     " (the previous certificate stays in use)";
      loaded.config.reset();
    }
  }
  if (!loaded.config) {
    // The old rules keep running: a broken file never opens or closes anything.
    stats_.reloadFinished(false, diagnostics);
    events_.emit(log::Level::kError, "reload_failed",
                 {{"config", options_.configPath}, {"diagnostics", diagnostics}});
    os::sdNotify("READY=1\nSTATUS=reload failed; previous configuration kept");
    return;
  }
  // Restart-only keys keep their start-up value (the daemon never applies
  // them half-way); the event says which ones now differ from what runs,
  // compared with the start-up config, so a second reload still says so.
  auto restartRequired = config::restartOnlyChanges(*startup_, *loaded.config);
  std::string restartText;
  for (const auto& key : restartRequired) restartText += (restartText.empty() ? "" : ", ") + key;
  // The snapshot in force keeps the running values of those keys, so
  // nothing that reads one from a snapshot can apply it half-way.
  config_ = config::withBoundEndpoints(config::keepRestartOnly(*loaded.config, *startup_),
                                       boundEndpoints());
  // Every request from now on reads the new snapshot; each worker applies
  // [dns] and the upstream pool's idle timeout on its own loop.
  server_->reload(config_);
  if (tls) server_->setTlsContext(std::move(tls));
  if (!server_->parentTlsErrors().empty()) {
    events_.emit(log::Level::kWarn, "parent_tls", {{"error", server_->parentTlsErrors()}});
  }
  stats_.setConnectionLimit(loaded.config->server.maxConnections);
  if (admin_) (void)admin_->setAllowList(loaded.config->admin.allow);
  if (pac_) pac_->setContent(pacContent(*config_));
  stats_.reloadFinished(true, {}, std::move(restartRequired));
  events_.emit(log::Level::kInfo, "reload",
               {{"config", options_.configPath},
                {"warnings", diagnostics},
                {"restart_required", restartText}});
  os::sdNotify("READY=1\nSTATUS=serving");
}

void Daemon::onSignal(evutil_socket_t sig, short, void* arg) noexcept {
  auto* d = static_cast<Daemon*>(arg);
  try {
    switch (sig) {
      case SIGHUP:
        d->reload();
        break;
      case SIGUSR1:
        d->access_.reopen();
        d->events_.sink().reopen();
        d->events_.emit(log::Level::kInfo, "logs_reopened");
        break;
      case SIGTERM:
      case SIGINT:
        if (d->stopping_) break;
        d->stats_.setDraining();
        if (d->drainTimer_) {  // a second signal while draining: stop now
          d->drainTimer_.reset();
          d->beginStop();
          break;
        }
        d->events_.emit(log::Level::kInfo, "stopping",
                        {{"signal", sig == SIGTERM ? "TERM" : "INT"},
                         {"drain_delay_ms", d->config_->server.drainDelay.count()}});
        if (d->config_->server.drainDelay.count() > 0) {
          // Still accepting: the balancer sees /healthz fail and moves away first.
          os::sdNotify("STATUS=draining");
          d->drainTimer_.reset(event_new(d->base_.get(), -1, 0, &Daemon::onDrained, d));
          const auto ms = d->config_->server.drainDelay.count();
          const timeval delay{static_cast<time_t>(ms / 1000),
                              static_cast<suseconds_t>(ms % 1000 * 1000)};
          if (d->drainTimer_ && event_add(d->drainTimer_.get(), &delay) == 0) break;
          d->drainTimer_.reset();
        }
        d->beginStop();
        break;
      default:
        break;
    }
  } catch (...) {
    // Never let an exception out of a libevent callback.
  }
}

void Daemon::beginStop() {
  stopping_ = true;
  os::sdNotify("STOPPING=1");
  server_->beginShutdown();
  event_base_loopexit(base_.get(), nullptr);
}

void Daemon::onDrained(evutil_socket_t, short, void* arg) noexcept {
  auto* d = static_cast<Daemon*>(arg);
  try {
    d->events_.emit(log::Level::kInfo, "drained");
    d->beginStop();
  } catch (...) {
  }
}

void Daemon::onCacheGauge(evutil_socket_t, short, void* arg) noexcept {
  auto* d = static_cast<Daemon*>(arg);
  try {
    if (d->cache_) {
      auto st = d->cache_->stats();
      d->stats_.setCacheUsage(st.bytes, st.objects, st.memoryBytes, st.memoryObjects);
    }
  } catch (...) {
  }
}

}  // namespace portcullis::runtime
