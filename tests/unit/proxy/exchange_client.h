#pragma once
// The client side of an in-process exchange: one end of a socketpair goes
// to the proxy's ClientConnection, the test keeps the other. What the proxy sends is
// read into `received()` by an event in the same loop, so a test waits on it
// with runUntil (never a sleep).

#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "daemon/base/unique_handle.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::testing {

class TestClient {
 public:
  /// `fd`: the test's end of the pair (non-blocking); `peer`: the address
  /// the proxy believes the client has ("ip:port", as access records show).
  TestClient(event_base* base, UniqueFd fd, std::string peer = {})
      : fd_(std::move(fd)), peer_(std::move(peer)) {
    readable_.reset(
        event_new(base, fd_.get(), EV_READ | EV_PERSIST, &TestClient::onReadable, this));
    event_add(readable_.get(), nullptr);
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  /// Writes all of `bytes` (the pair's buffer takes a request at once);
  /// false when the proxy's end is gone.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  /// Half-close: the proxy reads EOF, the test can still read.
  void shutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }
  /// Closes the test's end altogether (the client went away).
  void close() {
    if (readable_) event_del(readable_.get());
    fd_.reset();
  }

  const std::string& peer() const { return peer_; }
  /// Everything the proxy sent so far.
  const std::string& received() const { return received_; }
  /// Drops what was received so far (the next response starts afresh).
  void clearReceived() { received_.clear(); }
  /// The proxy closed (or reset) the connection.
  bool closedByProxy() const { return eof_; }
  /// The connection is over, whichever side closed it.
  bool closed() const { return eof_ || !fd_.valid(); }
  /// The status code of the first response in received(), or 0.
  int status() const {
    if (received_.compare(0, 9, "HTTP/1.1 ") != 0 || received_.size() < 12) return 0;
    return std::stoi(received_.substr(9, 3));
  }

 private:
  static void onReadable(evutil_socket_t fd, short, void* arg) noexcept {
    auto* self = static_cast<TestClient*>(arg);
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        try {
          self->received_.append(buf, static_cast<size_t>(n));
        } catch (...) {
          return;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 && errno == EINTR) continue;
      self->eof_ = true;  // 0: EOF; another error: reset
      event_del(self->readable_.get());
      return;
    }
  }

  UniqueFd fd_;
  std::string peer_;
  net::EventPtr readable_;
  std::string received_;
  bool eof_ = false;
};

}  // namespace portcullis::testing
