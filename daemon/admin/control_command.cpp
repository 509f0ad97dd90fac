#include "daemon/admin/control_command.h"

#include <signal.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include "cache/cache_admin.h"
#include "daemon/admin/status_client.h"
#include "daemon/config/config_loader.h"
#include "daemon/os/instance_lock.h"
#include "daemon/os/pid_lock.h"

namespace portcullis::admin {

namespace {

std::string percentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || std::strchr("-._~", c) != nullptr) {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

/// POSTs `target` to the admin listener `listen` ([admin] listen). The
/// X-Portcullis-Admin header is what the listener demands of every POST.
Result<HttpReply> adminPost(const std::string& listen, const std::string& target) {
  auto addr = AdminAddress::parse(listen);
  if (!addr.ok()) return addr.error();
  if (addr->kind == AdminAddress::Kind::kTcp && addr->port == 0) {
    return makeError("[admin] listen = \"" + listen + "\" names no fixed port");
  }
  const std::string request =
      "POST " + target + " HTTP/1.0\r\nX-Portcullis-Admin: 1\r\nContent-Length: 0\r\n\r\n";
  auto reply = httpExchange(*addr, request, std::chrono::seconds(5));
  if (!reply.ok()) return makeError("admin listener " + listen + ": " + reply.error().message);
  return reply;
}

/// Prints a reply of the admin listener; 0 when it says 200.
int printReply(const HttpReply& reply, std::ostream& out, std::ostream& err) {
  (reply.status == 200 ? out : err) << reply.body;
  return reply.status == 200 ? 0 : 1;
}

std::shared_ptr<const config::Config> load(const std::string& path, std::ostream& err) {
  auto loaded = config::loadConfigFile(path);
  for (const auto& d : loaded.diagnostics) err << d.format() << "\n";
  return loaded.config;
}

/// Reloads finished so far, success and failure, from /metrics
/// (portcullis_reloads_total{outcome="..."}); nullopt when unreadable.
std::optional<std::pair<uint64_t, uint64_t>> reloadCounts(const AdminAddress& addr) {
  auto reply = httpGet(addr, "/metrics", std::chrono::seconds(5));
  if (!reply.ok() || reply->status != 200) return std::nullopt;
  auto value = [&](std::string_view outcome) -> std::optional<uint64_t> {
    const std::string key = "portcullis_reloads_total{outcome=\"" + std::string(outcome) + "\"} ";
    const size_t at = reply->body.find(key);
    if (at == std::string::npos) return std::nullopt;
    return std::strtoull(reply->body.c_str() + at + key.size(), nullptr, 10);
  };
  auto ok = value("success"), failed = value("failure");
  if (!ok || !failed) return std::nullopt;
  return std::make_pair(*ok, *failed);
}

/// After POST /reload: waits (polling /metrics, 10 s at most) until the
/// daemon has finished the reload, and says how it went.
int reportReload(const AdminAddress& addr, std::pair<uint64_t, uint64_t> before, std::ostream& out,
                 std::ostream& err) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = reloadCounts(addr);
    if (now && now->second > before.second) {
      err << "portcullis: reload failed: the daemon keeps its previous configuration; its "
             "event log has the reasons (reload_failed)\n";
      return 1;
    }
    if (now && now->first > before.first) {
      out << "reloaded\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling, with a deadline
  }
  err << "portcullis: reload requested, but the daemon has not reported its outcome within "
         "10 s; see its event log\n";
  return 1;
}

int signalByPidFile(const std::string& pidFile, ControlAction action, std::ostream& out,
                    std::ostream& err) {
  const int sig = action == ControlAction::kReload ? SIGHUP : SIGUSR1;
  auto pid = os::PidLock::holder(pidFile);
  if (!pid.ok()) {
    err << "portcullis: " << pid.error().message << "\n";
    return 1;
  }
  if (!pid->has_value() || **pid <= 0) {
    err << "portcullis: no running portcullis holds the pid file " << pidFile
        << " (the daemon is not running, or the file is stale)\n";
    return 1;
  }
  if (::kill(**pid, sig) != 0) {
    err << "portcullis: cannot signal process " << **pid << ": " << std::strerror(errno)
        << (errno == EPERM ? " (run as root or as the daemon's user)" : "") << "\n";
    return 1;
  }
  out << "sent " << (sig == SIGHUP ? "SIGHUP (reload)" : "SIGUSR1 (reopen logs)")
      << " to portcullis process " << **pid << " (pid file " << pidFile << ")\n";
  return 0;
}

}  // namespace

int runControl(const std::string& configPath, ControlAction action, std::ostream& out,
               std::ostream& err) {
  auto cfg = load(configPath, err);
  if (!cfg) {
    err << "portcullis: " << configPath << " has errors"
        << (action == ControlAction::kReload ? ": not reloading (the daemon keeps its rules)\n"
                                             : "\n");
    return 2;
  }
  std::string adminError;
  if (!cfg->admin.listen.empty()) {
    // For a reload, the counters before it tell when it has finished.
    auto addr = AdminAddress::parse(cfg->admin.listen);
    std::optional<std::pair<uint64_t, uint64_t>> before;
    if (addr.ok() && action == ControlAction::kReload) before = reloadCounts(*addr);
    auto reply =
        adminPost(cfg->admin.listen, action == ControlAction::kReload ? "/reload" : "/reopen-logs");
    if (reply.ok() && reply->status == 200 && before) return reportReload(*addr, *before, out, err);
    if (reply.ok()) return printReply(*reply, out, err);
    adminError = reply.error().message;
  }
  if (!cfg->server.pidFile.empty()) {
    if (!adminError.empty()) err << "portcullis: " << adminError << "; using the pid file\n";
    return signalByPidFile(cfg->server.pidFile, action, out, err);
  }
  if (!adminError.empty()) {
    err << "portcullis: " << adminError << "\n";
  } else {
    err << "portcullis: " << configPath
        << " sets neither [admin] listen nor [server] pid_file, so there is no way to reach "
           "the daemon; set one, or send the signal yourself ("
        << (action == ControlAction::kReload ? "SIGHUP" : "SIGUSR1") << ")\n";
  }
  return 1;
}

namespace {

/// Purge with a daemon holding the cache directory: only through it.
int purgeThroughDaemon(const config::Config& cfg, const std::string& configPath, pid_t pid,
                       const std::string& url, std::ostream& out, std::ostream& err) {
  const std::string who =
      "portcullis process " + (pid > 0 ? std::to_string(pid) : std::string("(PID unknown)"));
  if (cfg.admin.listen.empty()) {
    // Editing the files behind its back would not stop it serving the object
    // from its in-memory index.
    err << "portcullis: not purged: " << who << " is running on " << cfg.cache.dir
        << " and [admin] listen is off in " << configPath
        << ", so the purge cannot reach it. Set [admin] listen (and restart the daemon), "
           "or stop the daemon and purge again.\n";
    return 1;
  }
  auto reply = adminPost(cfg.admin.listen, "/cache/purge?url=" + percentEncode(url));
  if (!reply.ok()) {
    err << "portcullis: not purged: " << who << " is running on " << cfg.cache.dir
        << " but did not answer: " << reply.error().message << "\n";
    return 1;
  }
  return printReply(*reply, out, err);
}

int purgeOffline(const config::Config& cfg, const std::string& url, std::ostream& out,
                 std::ostream& err) {
  // Held for the whole edit, so that a daemon starting meanwhile refuses.
  auto lock = os::PidLock::acquire(os::cacheLockPath(cfg.cache.dir));
  if (!lock.ok()) {
    err << "portcullis: not purged: " << lock.error().message << "\n";
    return 1;
  }
  auto n = cache::offlinePurge(cfg.cache.dir, url, cfg.cache.rules.get());
  if (!n.ok()) {
    err << "portcullis: " << n.error().message << "\n";
    return 1;
  }
  out << "purged " << *n << " object(s) (daemon not running: edited " << cfg.cache.dir
      << " directly)\n";
  return 0;
}

}  // namespace

int runCacheCommand(const std::string& configPath, bool purge, const std::string& url,
                    std::ostream& out, std::ostream& err) {
  auto cfg = load(configPath, err);
  if (!cfg) return 2;
  if (cfg->cache.dir.empty()) {
    err << "portcullis: [cache] dir is not set in " << configPath << "\n";
    return 2;
  }
  if (!purge) {
    // Read-only: SQLite's WAL lets a reader look while the daemon writes.
    auto st = cache::offlineStats(cfg->cache.dir);
    if (!st.ok()) {
      err << "portcullis: " << st.error().message << "\n";
      return 1;
    }
    out << "objects " << st->objects << "\nbytes " << st->bytes << "\n";
    return 0;
  }
  auto holder = os::PidLock::holder(os::cacheLockPath(cfg->cache.dir));
  if (!holder.ok()) {
    err << "portcullis: not purged: " << holder.error().message << "\n";
    return 1;
  }
  if (holder->has_value()) {
    return purgeThroughDaemon(*cfg, configPath, **holder, url, out, err);
  }
  return purgeOffline(*cfg, url, out, err);
}

}  // namespace portcullis::admin
