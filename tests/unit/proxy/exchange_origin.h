#pragma once
// An HTTP/1.1 origin inside the test process: a listener on 127.0.0.1:0 in
// the test's event loop, answering each request path with a script of
// steps (write these bytes, wait, hold until released, close). It parses
// just enough of a request (head, Content-Length or chunked body) to know
// where one ends; what it received is kept for the test to inspect.

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/base/unique_handle.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::testing {

/// What the origin does with one request, step by step.
class OriginScript {
 public:
  struct Step {
    enum class Kind { kWrite, kWait, kAwaitRelease, kClose, kHold };
    Kind kind;
    std::string bytes;                  ///< kWrite
    std::chrono::milliseconds wait{0};  ///< kWait
  };

  /// A complete response: status line, the fields, Content-Length, body.
  static OriginScript respond(int status, std::string body = {},
                              std::vector<std::pair<std::string, std::string>> fields = {});
  /// Raw bytes, written as they are.
  OriginScript& write(std::string bytes);
  /// Pauses this connection for `d` (real time, a libevent timer).
  OriginScript& wait(std::chrono::milliseconds d);
  /// Pauses until OriginServer::release(path) is called.
  OriginScript& awaitRelease();
  /// Closes the connection once what was written has gone out.
  OriginScript& close();
  /// Never answers further: the connection stays open, silent.
  OriginScript& hold();

  const std::vector<Step>& steps() const { return steps_; }

 private:
  std::vector<Step> steps_;
};

class OriginServer {
 public:
  /// Listens on 127.0.0.1 on an ephemeral port, in `base`'s loop.
  explicit OriginServer(event_base* base);
  ~OriginServer();
  OriginServer(const OriginServer&) = delete;
  OriginServer& operator=(const OriginServer&) = delete;

  uint16_t port() const { return port_; }
  /// Scripts the answer to every request for `path` (origin-form: "/a?b").
  /// A path without a script gets 404.
  void on(const std::string& path, OriginScript script);
  /// Resumes the connections waiting in awaitRelease() for `path`.
  void release(const std::string& path);

  /// Connections accepted so far.
  size_t connections() const { return connections_; }
  /// Every request received so far (head and body as sent), in order.
  const std::vector<std::string>& requests() const { return requests_; }
  /// Requests received for `path`.
  size_t requestsFor(const std::string& path) const;

 private:
  struct Conn;
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept;
  static void onRead(bufferevent*, void* arg) noexcept;
  static void onWrite(bufferevent*, void* arg) noexcept;
  static void onEvent(bufferevent*, short what, void* arg) noexcept;
  static void onTimer(evutil_socket_t, short, void* arg) noexcept;
  void readRequests(Conn& c);
  /// Runs the script's steps from c.step until one that waits.
  void advance(Conn& c);
  void finish(Conn& c);

  event_base* base_;
  net::ListenerPtr listener_;
  uint16_t port_ = 0;
  std::map<std::string, OriginScript> scripts_;
  std::list<std::unique_ptr<Conn>> conns_;
  size_t connections_ = 0;
  std::vector<std::string> requests_;
  std::vector<std::string> paths_;
};

/// A port on 127.0.0.1 that refuses connections: a socket bound to it but
/// not listening (held, so that no one else takes the port meanwhile).
class RefusingPort {
 public:
  RefusingPort();
  uint16_t port() const { return port_; }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
};

/// A port on 127.0.0.1 where connecting hangs: a listener with a backlog of
/// zero whose one queue slot is taken, so the kernel drops further SYNs
/// and a connect() neither succeeds nor fails (connect_timeout).
class BlackholePort {
 public:
  BlackholePort();
  uint16_t port() const { return port_; }

 private:
  UniqueFd listener_;
  UniqueFd filler_;
  uint16_t port_ = 0;
};

}  // namespace portcullis::testing
