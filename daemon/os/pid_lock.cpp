#include "daemon/os/pid_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::os {

namespace {

Error sysError(const std::string& what, const std::string& path) {
  return makeError(what + " " + path + ": " + std::strerror(errno));
}

/// The decimal PID at the start of the file, or 0 when there is none.
pid_t readPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  long v = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
    v = v * 10 + (buf[i] - '0');
    if (v > 1L << 30) return 0;
  }
  return static_cast<pid_t>(v);
}

std::string pidText(pid_t pid) {
  return pid > 0 ? "process " + std::to_string(pid) : "another process (PID not yet written)";
}

}  // namespace

PidLock::~PidLock() {
  release(false);
}

Result<PidLock> PidLock::acquire(const std::string& path) {
  // O_NOFOLLOW: a symlink planted in a shared directory must not make us
  // truncate another file.
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return sysError("cannot open", path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return sysError("cannot lock", path);
    return makeError(path + " is locked by " + pidText(readPid(fd.get())));
  }
  // Run as root on a directory that belongs to someone else (an admin's
  // `portcullis cache purge` on the service's cache), hand the file to that
  // owner: the daemon, running as that user, must be able to take it later.
  const std::string parent = path.substr(0, path.find_last_of('/') + 1);
  struct stat dirSt {};
  if (::geteuid() == 0 && ::stat(parent.empty() ? "." : parent.c_str(), &dirSt) == 0 &&
      dirSt.st_uid != 0) {
    (void)::fchown(fd.get(), dirSt.st_uid, dirSt.st_gid);
  }
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0) return sysError("cannot truncate", path);
  if (::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return sysError("cannot write", path);
  }
  PidLock lock;
  lock.fd_ = std::move(fd);
  lock.path_ = path;
  return lock;
}

Result<std::optional<pid_t>> PidLock::holder(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<pid_t>();
    return sysError("cannot open", path);
  }
  // A shared lock succeeds only when no one holds the exclusive one; it is
  // dropped again when fd closes.
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return std::optional<pid_t>();
  if (errno != EWOULDBLOCK) return sysError("cannot lock", path);
  return std::optional<pid_t>(readPid(fd.get()));
}

void PidLock::release(bool unlinkFile) {
  if (!fd_.valid()) return;
  if (unlinkFile) {
    // Remove only our own file: never one that replaced it at the same path.
    struct stat mine {
    }, named{};
    if (::fstat(fd_.get(), &mine) == 0 && ::lstat(path_.c_str(), &named) == 0 &&
        mine.st_dev == named.st_dev && mine.st_ino == named.st_ino) {
      (void)::unlink(path_.c_str());
    }
  }
  fd_.reset();
}

}  // namespace portcullis::os
