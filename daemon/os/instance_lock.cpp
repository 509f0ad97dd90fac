#include "daemon/os/instance_lock.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/os/privileges.h"

namespace portcullis::os {

namespace {

std::string holderText(pid_t pid) {
  return pid > 0 ? "portcullis process " + std::to_string(pid) : "another portcullis process";
}

Error cacheInUse(const std::string& dir, pid_t pid) {
  return makeError("cache directory " + dir + " is in use by " + holderText(pid) + " (lock file " +
                   cacheLockPath(dir) +
                   "): stop that daemon first, or give this one its own [cache] dir");
}

Error pidFileInUse(const std::string& path, pid_t pid) {
  return makeError("pid file " + path + " belongs to running " + holderText(pid) +
                   ": stop it first, or set another [server] pid_file");
}

}  // namespace

std::string cacheLockPath(const std::string& cacheDir) {
  return cacheDir + "/portcullis.lock";
}

Result<void> checkNotRunning(const config::Config& cfg) {
  if (cfg.cache.enabled && !cfg.cache.dir.empty()) {
    auto pid = PidLock::holder(cacheLockPath(cfg.cache.dir));
    // An unreadable lock file is left to lockCacheDir() to report.
    if (pid.ok() && pid->has_value()) return cacheInUse(cfg.cache.dir, **pid);
  }
  if (!cfg.server.pidFile.empty()) {
    auto pid = PidLock::holder(cfg.server.pidFile);
    if (pid.ok() && pid->has_value()) return pidFileInUse(cfg.server.pidFile, **pid);
  }
  return {};
}

Result<PidLock> takePidFile(const std::string& path) {
  auto before = PidLock::holder(path);
  if (before.ok() && before->has_value()) return pidFileInUse(path, **before);
  auto lock = PidLock::acquire(path);
  if (!lock.ok()) return makeError("pid file: " + lock.error().message);
  return lock;
}

Result<void> createDirFor(const std::string& dir, const std::string& user) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return {};
  auto ids = lookupUser(user);
  if (!ids.ok()) return ids.error();
  std::error_code ec;
  const auto parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return makeError("cannot create " + parent.string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return makeError("cannot create " + dir + ": " + std::strerror(errno));
  }
  if (::chown(dir.c_str(), ids->uid, ids->gid) != 0) {
    return makeError("cannot give " + dir + " to " + user + ": " + std::strerror(errno));
  }
  return {};
}

Result<PidLock> lockCacheDir(const std::string& dir) {
  // Mode 0700 as the cache itself creates it; a failure shows in the open below.
  (void)::mkdir(dir.c_str(), 0700);
  auto before = PidLock::holder(cacheLockPath(dir));
  if (before.ok() && before->has_value()) return cacheInUse(dir, **before);
  auto lock = PidLock::acquire(cacheLockPath(dir));
  if (!lock.ok()) return makeError("cache: " + lock.error().message);
  return lock;
}

}  // namespace portcullis::os
