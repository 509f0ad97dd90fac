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
// On a transparent TLS port kReadingHead reads a ClientHello instead of a
// head (client_connection_transparent.cpp) and hands its SNI on as a CONNECT.
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
  /// `transparent`: the connection was redirected by the kernel to a
  /// [server] listen_transparent socket, and this is where it was going.
  ClientConnection(ProxyContext& context, int fd, const net::SocketAddress& peer,
                   acl::IpAddress clientIp, net::SslPtr ssl = {},
                   std::optional<TransparentDestination> transparent = std::nullopt);
  ~ClientConnection() override;
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void start();
  /// Graceful stop: close now if between requests, else after this response.
  void drain();
  /// The connection came through a load balancer (PROXY protocol): the
  /// client address is the one it carried; the balancer's is logged beside.
  void setBalancer(std::string balancer) { balancerText_ = std::move(balancer); }
  bool closed() const { return state_ == State::kClosed; }
  /// Judges an open tunnel or streaming response again (Exchange::recheck)
  /// and closes it, both sides, when the rules no longer allow it.
  void recheckPolicy(const acl::Policy& policy, SystemTime now);

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
  /// Transparent TLS: the ClientHello instead of a request head; its SNI
  /// becomes a CONNECT to that name (client_connection_transparent.cpp).
  void readClientHello();
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
  const std::string& balancerText() const override { return balancerText_; }
  const TransparentDestination* transparent() const override {
    return transparent_ ? &*transparent_ : nullptr;
  }
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
  std::string balancerText_;  ///< PROXY protocol: who relayed the connection
  std::optional<TransparentDestination> transparent_;
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
