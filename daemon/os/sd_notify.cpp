#include "daemon/os/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "daemon/base/unique_handle.h"

namespace portcullis::os {

namespace {

/// Fills `addr` from a $NOTIFY_SOCKET value; returns the address length to
/// pass to sendto(), or 0 when the name cannot be used.
socklen_t fillAddress(std::string_view name, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (name.size() < 2) return 0;
  if (name.front() == '/') {
    // A filesystem path needs room for its terminating NUL.
    if (name.size() >= sizeof addr.sun_path) return 0;
    std::memcpy(addr.sun_path, name.data(), name.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
  }
  if (name.front() == '@') {
    // Abstract namespace (unix(7)): sun_path[0] is NUL and the name is the
    // following bytes, counted by the address length, not NUL-terminated.
    if (name.size() > sizeof addr.sun_path) return 0;
    std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  }
  // Anything else (e.g. systemd 254's "vsock:CID:PORT") is not supported.
  return 0;
}

}  // namespace

Result<void> sdNotifyTo(std::string_view socketName, std::string_view state) {
  sockaddr_un addr;
  const socklen_t len = fillAddress(socketName, addr);
  if (len == 0) {
    return makeError("unusable notification socket name '" + std::string(socketName) + "'");
  }
  // Non-blocking: a stalled manager must never stall an event loop thread.
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return makeError(std::string("socket(AF_UNIX): ") + std::strerror(errno));
  ssize_t n = 0;
  do {
    n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return makeError("sendto(" + std::string(socketName) + "): " + std::strerror(errno));
  }
  if (static_cast<size_t>(n) != state.size()) {
    return makeError("sendto(" + std::string(socketName) + "): short datagram");
  }
  return {};
}

void sdNotify(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");  // read-only: no setenv runs concurrently
  if (name == nullptr || *name == '\0') return;
  (void)sdNotifyTo(name, state);
}

std::string reloadingState() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ull +
                                  static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace portcullis::os
