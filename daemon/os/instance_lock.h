#pragma once
// One daemon per cache directory and per pid file. `portcullis run` checks
// before binding that no live process holds either (a clear refusal before
// any socket is taken, SO_REUSEPORT would otherwise let a second daemon share
// the port), writes the pid file after binding (as root when started as root,
// like nginx, so it may live under /run) and locks the cache directory after
// dropping privileges, as the user that writes the cache.

#include <string>

#include "daemon/base/result.h"
#include "daemon/config/config.h"
#include "daemon/os/pid_lock.h"

namespace portcullis::os {

/// The lock file that marks a cache directory in use: DIR/portcullis.lock.
std::string cacheLockPath(const std::string& cacheDir);

/// An error, worded for the admin, when a live process holds the cache
/// directory lock (cache enabled) or the pid file of `cfg`.
Result<void> checkNotRunning(const config::Config& cfg);

/// Takes `[server] pid_file` (writes this PID, keeps it locked). Refuses a
/// pid file that a live process holds; a stale one is replaced.
Result<PidLock> takePidFile(const std::string& path);

/// Creates the directory `dir` (mode 0700, parents as needed) owned by
/// `user` when it does not exist yet: for a root start that drops to `user`,
/// who may not be allowed to create it. An existing directory is left as it is.
Result<void> createDirFor(const std::string& dir, const std::string& user);

/// Creates `dir` if missing and takes its portcullis.lock for this process.
Result<PidLock> lockCacheDir(const std::string& dir);

}  // namespace portcullis::os
