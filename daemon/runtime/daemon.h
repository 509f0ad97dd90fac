#pragma once
// The daemon behind `portcullis run`: start-up in order (load, refuse root,
// check no other instance, bind, pid file, drop privileges, open logs, lock
// and open the cache, admin listener, signals), the main loop on the
// calling thread (signals, the cache gauge), the reload procedure (SIGHUP)
// and the orderly stop (SIGTERM/SIGINT). main.cpp keeps the command line.
//
// Threads: everything here runs on the thread that calls run(), except the
// hooks handed to the proxy::Server (called on worker threads; they only
// touch the thread-safe log sinks).

#include <memory>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "daemon/admin/admin_server.h"
#include "daemon/admin/pac_server.h"
#include "daemon/admin/stats.h"
#include "daemon/config/config.h"
#include "daemon/log/event_log.h"
#include "daemon/log/log_sink.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/os/pid_lock.h"
#include "daemon/os/privileges.h"
#include "daemon/proxy/server.h"

namespace portcullis::runtime {

/// What `portcullis run` was told on the command line.
struct RunOptions {
  std::string configPath;
  bool allowRoot = false;  ///< --allow-root: keep running as root when no user is set
  std::string user;        ///< --user NAME; wins over [server] user
};

class Daemon {
 public:
  explicit Daemon(RunOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Starts, serves until SIGTERM/SIGINT, stops. Returns the process exit
  /// code: 0 after a clean stop, 1 when start-up failed (the reason is
  /// printed to standard error, nothing is left bound or locked).
  int run();

 private:
  // Start-up steps, in order; each prints its own refusal and returns false.
  bool loadConfig();
  bool bindAndDropPrivileges();
  bool openLogs();
  bool openCache();
  bool startAdmin();
  void installLoopEvents();
  proxy::ProxyHooks makeHooks();
  void announceReady();
  void shutdown();

  /// SIGHUP: load and validate the file; on success swap the snapshot, push
  /// it to every worker and report the restart-only keys that changed.
  void reload();
  /// The sockets this daemon listens on (ports the kernel chose included).
  std::vector<acl::SelfAddresses::Endpoint> boundEndpoints() const;
  std::string pacAddresses() const;  ///< bound PAC addresses, space-separated

  static void onSignal(evutil_socket_t sig, short, void* arg) noexcept;
  static void onCacheGauge(evutil_socket_t, short, void* arg) noexcept;

  RunOptions options_;
  os::PidLock pidFile_;    // released last: held while the daemon lives
  os::PidLock cacheLock_;  // DIR/portcullis.lock, one daemon per cache directory
  std::shared_ptr<const config::Config> config_;  ///< the snapshot in force
  /// The config the daemon started with: what restart-only keys still run with.
  std::shared_ptr<const config::Config> startup_;
  os::RootAction rootAction_ = os::RootAction::kNone;
  std::string dropUser_;
  log::EventLog events_;
  log::LogSink access_;
  admin::Stats stats_{std::chrono::system_clock::now()};
  std::unique_ptr<admin::AdminServer> admin_;
  std::unique_ptr<admin::PacServer> pac_;  ///< [pac] listen; null when not served
  std::unique_ptr<cache::Cache> cache_;
  net::EventPtr cacheGauge_;
  std::unique_ptr<proxy::Server> server_;
  net::EventBasePtr base_;
  std::vector<net::EventPtr> signals_;
  bool stopping_ = false;
  net::EventPtr drainTimer_;  ///< SIGTERM with [server] drain_delay: stops when it fires
  static void onDrained(evutil_socket_t, short, void* arg) noexcept;
  void beginStop();
};

}  // namespace portcullis::runtime
