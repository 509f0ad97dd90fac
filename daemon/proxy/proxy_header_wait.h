#pragma once
// A connection from a trusted load balancer ([server] proxy_protocol_from)
// before its PROXY protocol header has arrived. The header is read with
// MSG_PEEK until it is whole, then exactly its bytes are consumed, so the
// client's own bytes stay in the socket for the ClientConnection. Until
// then nothing is known about the client: the abuse guard, the connection
// limits and the rules run only afterwards, on the carried address.
//
//   kWaiting --header whole--> kDone (done(header))
//      |  \--not a PROXY header, or malformed--> kDone (done(error))
//      \--header_timeout, or EOF------------------> kDone (done(error))
//
// On the worker's loop thread only.

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <string>

#include "daemon/http/proxy_protocol.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::proxy {

class ProxyHeaderWait {
 public:
  /// Called once; `error` empty when `header` is valid. The fd is still
  /// open and now owned by the callee, which must not destroy `self` inside
  /// the call (it is on the stack): defer it.
  using Done = std::function<void(ProxyHeaderWait* self, int fd, const http::ProxyHeader& header,
                                  const std::string& error)>;

  ProxyHeaderWait(event_base* base, int fd, std::chrono::milliseconds timeout, Done done);
  ~ProxyHeaderWait();  ///< closes the fd if done was never called
  ProxyHeaderWait(const ProxyHeaderWait&) = delete;
  ProxyHeaderWait& operator=(const ProxyHeaderWait&) = delete;

  void start();

 private:
  static void onEvent(evutil_socket_t fd, short what, void* arg) noexcept;
  void readable();
  void finish(const http::ProxyHeader& header, std::string error);

  int fd_;
  std::chrono::steady_clock::time_point deadline_;
  Done done_;
  net::EventPtr event_;
};

}  // namespace portcullis::proxy
