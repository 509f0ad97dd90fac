#pragma once
// Blocking socket helpers for `portcullis audit`, each bounded by a deadline
// (poll() on non-blocking sockets). The audit runs in the CLI process, never
// in a daemon loop, so blocking calls are fine here.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"

namespace portcullis::audit {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

/// A host and port as written on the command line.
struct HostPort {
  std::string host;  ///< name or address, without IPv6 brackets
  uint16_t port = 0;

  /// "host:port", with brackets around an IPv6 literal (authority form).
  std::string authority() const;
};

/// Parses "HOST:PORT", "[V6]:PORT" or "V4:PORT". Pure; error text is for a
/// person ("missing port", "port out of range"...).
Result<HostPort> parseHostPort(std::string_view text);

/// One resolved socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

/// getaddrinfo() for TCP: every address of `target`, in resolver order.
Result<std::vector<SocketAddress>> resolve(const HostPort& target);

/// Connects to the first address that accepts before `deadline`. The socket
/// is returned non-blocking.
Result<UniqueFd> connectTo(const std::vector<SocketAddress>& addresses, Deadline deadline);

/// Writes all of `data`; fails on error, peer reset or deadline.
Result<void> sendAll(int fd, std::string_view data, Deadline deadline);

/// Why readUntil() stopped.
enum class ReadEnd { kDone, kClosed, kTimeout, kFull };

/// Appends what arrives on `fd` to `buffer` until `done(buffer)` is true,
/// the peer closes (or resets), `deadline` passes, or `buffer` reaches
/// `maxBytes`.
ReadEnd readUntil(int fd, std::string& buffer, Deadline deadline,
                  const std::function<bool(std::string_view)>& done, size_t maxBytes = 65536);

/// Milliseconds left until `deadline` for poll(), at least 0.
int msUntil(Deadline deadline);

}  // namespace portcullis::audit
