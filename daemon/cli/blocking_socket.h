#pragma once
// The CLI's blocking sockets: resolve, connect, send and read, each bounded
// by a deadline (poll() on non-blocking sockets). `portcullis audit` probes a
// proxy with them, and the one blocking HTTP client (http_client.h) that
// `status`, `reload`, `cache purge` and the admin tests use is built on them.
// They run in the CLI process (or a test), never in a daemon loop, so
// blocking calls are fine here.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"
#include "daemon/http/host_port.h"

namespace portcullis::cli {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

/// One socket address to connect to (TCP or a Unix socket).
struct Endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

/// getaddrinfo() for TCP: every address of `target`, in resolver order.
Result<std::vector<Endpoint>> resolve(const http::HostPort& target);

/// Connects to the first address that accepts before `deadline`. The socket
/// is returned non-blocking.
Result<UniqueFd> connectTo(const std::vector<Endpoint>& addresses, Deadline deadline);

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

}  // namespace portcullis::cli
