#pragma once
// A file that names the process holding it: flock(2) on an open descriptor
// plus the holder's PID written inside. Used for the cache directory's
// `portcullis.lock` (one daemon per cache directory) and for `[server]
// pid_file`. The lock, not the file's existence, says whether the holder
// lives: the kernel drops it when the process exits, even on kill -9, so a
// file left behind is recognised as stale and never mistaken for a live
// daemon (and a recycled PID is never signalled).

#include <sys/types.h>

#include <optional>
#include <string>

#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"

namespace portcullis::os {

class PidLock {
 public:
  PidLock() = default;
  PidLock(PidLock&&) noexcept = default;
  PidLock& operator=(PidLock&&) noexcept = default;
  ~PidLock();  ///< release(false)

  /// Opens (creating, mode 0644) `path`, takes an exclusive lock without
  /// waiting and writes this process's PID into it. Errors: the file is
  /// locked by another process (the message names its PID), or
  /// open/flock/write failed (the message names the path).
  static Result<PidLock> acquire(const std::string& path);

  /// The PID of the process that holds `path` locked (0 when it has not
  /// written it yet), or nullopt when the file is missing or nobody holds it
  /// (stale). Needs only read access. Errors: the file cannot be opened.
  static Result<std::optional<pid_t>> holder(const std::string& path);

  /// Drops the lock; with `unlinkFile`, first removes the file if it is
  /// still the one this lock opened (a failure to remove, e.g. after the
  /// privileges were dropped, only leaves a stale file behind).
  void release(bool unlinkFile);

  bool held() const { return fd_.valid(); }
  const std::string& path() const { return path_; }

 private:
  UniqueFd fd_;
  std::string path_;
};

}  // namespace portcullis::os
