#pragma once
// One client connection on one worker thread, through any number of
// keep-alive requests: it reads request heads, hands each to its Exchange
// (exchange.h: admission, DNS, cache, upstream, the log line), writes
// what the exchange answers (the direct-write path below), applies the
// client's limits ([[limit]] by value, the bandwidth bucket), runs the head
// timer and drains or closes. Every state and transition (enter() asserts
// the table in debug builds and tells the observer):
//
//   start --> kReadingHead --head parsed--> kExchange --exchange over, keep-alive------+
//                ^   |   \                      |   \                                   |
//                |   |    \--bad head / head    |    \--CONNECT established--> kTunnel  |
//                |   |       timeout: answered  |          --tunnel closed--> kClosed   |
//                |   |       (400/408/431)      v                                       |
//                |   |                     not keep-alive, draining, body broken:        |
//                |   |                     kFlushingThenClose --output drained--> kClosed|
//                +---|-------------------------------------------------------------------+
//                    +--idle timeout, drain between requests, EOF--> kClosed
//   (any state may close: client error or EOF, an exception in a callback)
//
// Every libevent callback is noexcept and funnels into the methods below; a
// finished connection asks its context (the Worker) to delete it after the
// callback.

#include <event2/buffer.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "acl/ip_address.h"
#include "daemon/config/config.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/net/socket_address.h"
#include "daemon/net/tls_handles.h"
#include "daemon/proxy/buffer_tunnel.h"
#include "daemon/proxy/exchange.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/tunnel.h"

namespace portcullis::proxy {

class ClientConnection final : private Exchange::Connection {
 public:
  /// `context` outlives the connection; everything it reaches outside
  /// itself goes through it. With `ssl` (the TLS proxy port) the connection
  /// starts with a TLS handshake, run by libevent's OpenSSL bufferevent on
  /// this loop without blocking; the direct-write path and splice tunnels
  /// are off (the bytes on the socket are TLS records).
  ClientConnection(ProxyContext& context, int fd, const net::SocketAddress& peer,
                   acl::IpAddress clientIp, net::SslPtr ssl = {});
  ~ClientConnection() override;
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void start();
  /// Graceful stop: close now if between requests, else after this response.
  void drain();
  bool closed() const { return state_ == State::kClosed; }

  enum class State : uint8_t {
    kReadingHead,
    kExchange,  ///< a request is in its Exchange (its own phases: exchange.h)
    kTunnel,
    kFlushingThenClose,
    kClosed,
  };
  /// The name the PhaseObserver gets ("?" past the last state).
  static std::string_view stateName(State s);

 private:
  static bool transitionAllowed(State from, State to);
  void enter(State to);

  // libevent entry points. Each runs its body through guarded(): no
  // exception (an allocation failure, say) crosses into libevent; the
  // connection closes instead.
  template <class Body>
  static void guarded(void* arg, Body&& body) noexcept {
    auto* self = static_cast<ClientConnection*>(arg);
    try {
      body(self);
    } catch (...) {
      self->close();
    }
  }
  static void onClientRead(bufferevent*, void* arg) noexcept;
  static void onClientWrite(bufferevent*, void* arg) noexcept;
  static void onClientEvent(bufferevent*, short what, void* arg) noexcept;
  static void onHeadTimer(evutil_socket_t, short, void* arg) noexcept;
  static void onResume(evutil_socket_t, short, void* arg) noexcept;
  static void onClientFlush(evutil_socket_t, short, void* arg) noexcept;
  static void onClientOutputAdded(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept;
  void onClientEventIn(short what);

  void readHead();
  void beginExchange(http::RequestHead head, size_t headBytes);
  void armHeadTimer(std::chrono::milliseconds timeout);
  /// Resolves this client's [[limit]] from config_ (after start and after a
  /// reload swapped config_) and sets the connection's bandwidth bucket.
  void applyLimits();
  /// What to do once the client's output has drained (below the write
  /// watermark): resume the exchange, or the pending close.
  void onClientDrained();
  /// Stops the direct-write path before the bufferevent changes hands.
  void stopDirectWrites();
  void close();

  // Exchange::Connection
  bufferevent* clientEvents() override { return client_.get(); }
  const acl::IpAddress& clientIp() const override { return clientIp_; }
  const std::string& clientText() const override { return clientText_; }
  bool overTls() const override { return tls_; }
  bool draining() const override { return draining_; }
  bool takeRequestToken(std::string& limitName) override;
  void noteRefusal() override;
  void exchangeFinished(bool keepAlive) override;
  void closeAfterFlush() override;
  void closeNow() override { close(); }
  void startTunnel(std::unique_ptr<UpstreamConnection> upstream) override;

  ProxyContext& context_;
  net::BufferEventPtr client_;
  net::SocketAddress peer_;
  acl::IpAddress clientIp_;
  std::string clientText_;
  net::EventPtr headTimer_;
  net::EventPtr resumeEvent_;
  /// Direct writes: EV_WRITE on the client stays off while its output is
  /// empty; bytes added schedule clientFlush_, which writes them straight
  /// to the socket at the end of this loop turn (one writev, no epoll_ctl)
  /// and only enables EV_WRITE when the socket did not take everything.
  net::EventPtr clientFlush_;
  evbuffer_cb_entry* outputWatch_ = nullptr;
  bool flushScheduled_ = false;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<BufferTunnel> bufferTunnel_;  ///< CONNECT on the TLS port
  bool tls_ = false;
  State state_ = State::kReadingHead;
  bool headStarted_ = false;
  bool draining_ = false;
  size_t requestsServed_ = 0;
  std::shared_ptr<const config::Config> config_;  // for the connection-level limits
  /// The [[limit]] that applies to this client under config_, copied by
  /// value: nothing in a connection points into a snapshot it might outlive.
  std::optional<config::RateLimitConfig> limit_;
  UniqueHandle<ev_token_bucket_cfg, ev_token_bucket_cfg_free> bandwidth_;
  Exchange exchange_{context_, *this};
};

}  // namespace portcullis::proxy
