#include "daemon/proxy/proxy_header_wait.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace portcullis::proxy {

ProxyHeaderWait::ProxyHeaderWait(event_base* base, int fd, std::chrono::milliseconds timeout,
                                 Done done)
    : fd_(fd), deadline_(std::chrono::steady_clock::now() + timeout), done_(std::move(done)) {
  event_.reset(event_new(base, fd, EV_READ, &ProxyHeaderWait::onEvent, this));
}

ProxyHeaderWait::~ProxyHeaderWait() {
  if (fd_ >= 0) ::close(fd_);
}

void ProxyHeaderWait::start() {
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline_ - std::chrono::steady_clock::now());
  if (left.count() <= 0) return finish({}, "no PROXY protocol header within header_timeout");
  const timeval tv{static_cast<time_t>(left.count() / 1000000),
                   static_cast<suseconds_t>(left.count() % 1000000)};
  if (!event_ || event_add(event_.get(), &tv) != 0) finish({}, "cannot wait for the PROXY header");
}

void ProxyHeaderWait::onEvent(evutil_socket_t, short what, void* arg) noexcept {
  auto* self = static_cast<ProxyHeaderWait*>(arg);
  try {
    if (what & EV_TIMEOUT)
      return self->finish({}, "no PROXY protocol header within header_timeout");
    self->readable();
  } catch (...) {
    self->finish({}, "internal error reading the PROXY header");
  }
}

void ProxyHeaderWait::readable() {
  char buf[http::kMaxProxyHeader];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return start();
  if (n <= 0) return finish({}, "closed before its PROXY protocol header");
  const http::ProxyParse p = http::parseProxyHeader(std::string_view(buf, static_cast<size_t>(n)));
  if (p.status == http::ProxyParse::Status::kNeedMore) {
    // MSG_PEEK leaves the bytes queued; a whole buffer that still needs more
    // cannot happen (kMaxProxyHeader bounds every header).
    return start();
  }
  if (p.status == http::ProxyParse::Status::kInvalid) return finish({}, p.error);
  // Consume exactly the header: the client's bytes stay for the connection.
  const ssize_t got = ::recv(fd_, buf, p.header.length, 0);
  if (got != static_cast<ssize_t>(p.header.length))
    return finish({}, "cannot read the PROXY header");
  finish(p.header, {});
}

void ProxyHeaderWait::finish(const http::ProxyHeader& header, std::string error) {
  event_.reset();
  const int fd = fd_;
  fd_ = -1;
  Done done = std::move(done_);
  done(this, fd, header, error);
}

}  // namespace portcullis::proxy
