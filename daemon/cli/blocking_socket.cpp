#include "daemon/cli/blocking_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace portcullis::cli {

int msUntil(Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

Result<std::vector<Endpoint>> resolve(const http::HostPort& target) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(target.port);
  const int rc = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) return makeError("cannot resolve " + target.host + ": " + ::gai_strerror(rc));
  UniqueHandle<addrinfo, ::freeaddrinfo> owner(list);
  std::vector<Endpoint> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Endpoint a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  if (out.empty()) return makeError("no address for " + target.host);
  return out;
}

namespace {

Result<UniqueFd> connectOne(const Endpoint& a, Deadline deadline) {
  UniqueFd fd(::socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.length) == 0) return fd;
  // A Unix socket whose backlog is full says EAGAIN where TCP says EINPROGRESS.
  if (errno != EINPROGRESS && errno != EAGAIN) return makeError(std::strerror(errno));
  pollfd p{fd.get(), POLLOUT, 0};
  int n = 0;
  do {
    n = ::poll(&p, 1, msUntil(deadline));
  } while (n < 0 && errno == EINTR);
  if (n == 0) return makeError("connect timed out");
  int soError = 0;
  socklen_t len = sizeof soError;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soError, &len);
  if (soError != 0) return makeError(std::strerror(soError));
  return fd;
}

}  // namespace

Result<UniqueFd> connectTo(const std::vector<Endpoint>& addresses, Deadline deadline) {
  std::string why = "no address";
  for (const auto& a : addresses) {
    auto fd = connectOne(a, deadline);
    if (fd.ok()) return fd;
    why = fd.error().message;
  }
  return makeError(why);
}

Result<void> sendAll(int fd, std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return makeError(std::string("send: ") + std::strerror(errno));
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, msUntil(deadline)) == 0) return makeError("send timed out");
  }
  return {};
}

ReadEnd readUntil(int fd, std::string& buffer, Deadline deadline,
                  const std::function<bool(std::string_view)>& done, size_t maxBytes) {
  char chunk[16384];
  while (true) {
    if (done(buffer)) return ReadEnd::kDone;
    if (buffer.size() >= maxBytes) return ReadEnd::kFull;
    const ssize_t n = ::recv(fd, chunk, std::min(sizeof chunk, maxBytes - buffer.size()), 0);
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return ReadEnd::kClosed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ReadEnd::kClosed;  // reset counts as closed
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, msUntil(deadline));
    if (ready == 0) return ReadEnd::kTimeout;
  }
}

}  // namespace portcullis::cli
