#pragma once
// The CONNECT SNI check: after "200 Connection established" and before the
// Tunnel, read the client's first bytes (the TLS ClientHello) and decide by
// its server name whether the tunnel may open. A part of the Exchange, like
// UpstreamRequest; the rules are sni_verdict.h, the reader daemon/tls.
//
//   idle --start()--> reading: client bytes accumulate (nothing goes upstream;
//     |                        what the origin sends is passed to the client)
//     |                  |  \--refused / sni_timeout / too large--> refused (owner closes)
//     |                  \--SNI names another host--> resolving: policy + DNS on the SNI name
//     |                  |                              |--allowed and holds the address--+
//     |                  v                              \--denied--> refused              |
//     |                relay: the owner starts the Tunnel with the bytes still <---------+
//     |                       queued in the client's input
//   any --stop(): the exchange ended (client gone, reload drain)
// On the worker's loop thread only.

#include <event2/bufferevent.h>

#include <memory>
#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "acl/policy.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/sni_verdict.h"
#include "daemon/proxy/upstream_pool.h"

namespace portcullis::proxy {

class SniCheck {
 public:
  /// What the check needs from its exchange.
  class Owner {
   public:
    virtual ~Owner() = default;
    /// The policy's answer for this client's CONNECT as if it named `host`
    /// (resolved to `addresses`; empty = the name-only stage).
    virtual acl::Decision admitSniName(const std::string& host,
                                       const std::vector<acl::IpAddress>& addresses) const = 0;
    /// The tunnel may open; the client's bytes are still in its input buffer.
    virtual void sniPassed(std::unique_ptr<UpstreamConnection> upstream) = 0;
    /// The tunnel must close; `verdict` says why (rule, detail).
    virtual void sniRefused(const SniVerdict& verdict) = 0;
    /// What the ClientHello said, for the access log.
    virtual void sniRead(const tls::ClientHello& hello) = 0;
  };

  SniCheck(ProxyContext& context, Owner& owner) : context_(context), owner_(owner) {}
  ~SniCheck() { stop(); }
  SniCheck(const SniCheck&) = delete;
  SniCheck& operator=(const SniCheck&) = delete;

  struct Limits {
    std::chrono::milliseconds timeout{10000};
    size_t maxBytes = 16384;
    size_t bufferBytes = 256 * 1024;  ///< origin bytes held for a slow client at most
  };

  /// Takes `upstream` (connected) and reads `client`'s input from now on.
  void start(bufferevent* client, std::unique_ptr<UpstreamConnection> upstream, SniFacts facts,
             Limits limits);
  /// Client bytes arrived. Always consumes the event (true).
  bool onClientReadable();
  /// The client's output drained: read the origin again.
  void onClientDrained();
  /// Ends the check without an answer; frees the upstream and the timer.
  void stop();
  bool active() const { return upstream_ != nullptr; }

 private:
  template <class Body>
  static void guarded(void* arg, Body&& body) noexcept {
    auto* self = static_cast<SniCheck*>(arg);
    try {
      body(self);
    } catch (...) {
      self->finish(SniVerdict{SniVerdict::Step::kRefuse, "sni:error", "internal error", {}});
    }
  }
  static void onTimer(evutil_socket_t, short, void* arg) noexcept;
  static void onUpstreamRead(bufferevent*, void* arg) noexcept;
  static void onUpstreamEvent(bufferevent*, short what, void* arg) noexcept;
  void passOriginBytes();
  void act(SniVerdict verdict);
  void checkName(const std::string& name);
  void onResolved(const std::string& name, const net::DnsAnswer& answer);
  void finish(const SniVerdict& verdict);

  ProxyContext& context_;
  Owner& owner_;
  bufferevent* client_ = nullptr;
  std::unique_ptr<UpstreamConnection> upstream_;
  SniFacts facts_;
  Limits limits_;
  net::EventPtr timer_;
  uint64_t dnsTicket_ = 0;
  bool judging_ = false;  ///< the bytes are judged; waiting for DNS on the SNI name
};

}  // namespace portcullis::proxy
