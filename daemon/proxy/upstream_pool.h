#pragma once
// Keep-alive connections to origins and parents, per worker. A connection
// is keyed by what makes two connections interchangeable: the address for a
// plain one; for TLS to a parent also the name verified and the TLS context
// ("tls:" keys, UpstreamRequest::parentPoolKey), so a TLS connection is only
// reused for the same parent with the same TLS settings. An idle one that
// the peer closes (a TCP close, or a TLS close_notify seen through the
// filter) or that talks out of turn is dropped at once.

#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "daemon/net/libevent_handles.h"
#include "daemon/net/socket_address.h"

namespace portcullis::proxy {

class UpstreamPool;

struct UpstreamConnection {
  /// The socket bufferevent, or for TLS to a parent the TLS filter that
  /// owns the socket bufferevent and the SSL (net::startClientTls).
  net::BufferEventPtr bev;
  net::SocketAddress address;
  std::string key;               ///< the pool key (see above)
  bool reused = false;           ///< came out of the pool: may have been closed meanwhile
  UpstreamPool* pool = nullptr;  ///< null: never pooled (a CONNECT tunnel)
};

class UpstreamPool {
 public:
  UpstreamPool(event_base* base, std::chrono::milliseconds idleTimeout, size_t maxIdlePerKey);
  ~UpstreamPool();

  /// An idle connection under `key` ("" = the address text), or a new
  /// socket bufferevent to `address` under it that is not connected yet
  /// (callbacks not set: the caller sets its own, connects and watches
  /// BEV_EVENT_CONNECTED; a TLS one is wrapped by the caller).
  std::unique_ptr<UpstreamConnection> acquire(const net::SocketAddress& address,
                                              const std::string& key = {});
  /// Returns a connection whose last response was completely read (for
  /// TLS, with the handshake done and nothing left in the filter's input).
  void release(std::unique_ptr<UpstreamConnection> conn);
  /// A reloaded [server] upstream_idle_timeout: connections idle now get
  /// the new timeout from this moment, later ones from their release.
  void setIdleTimeout(std::chrono::milliseconds t);
  size_t idleCount() const { return idleCount_; }
  void clear();

 private:
  static void onIdleRead(bufferevent* bev, void* arg) noexcept;
  static void onIdleEvent(bufferevent* bev, short what, void* arg) noexcept;
  void drop(UpstreamConnection* conn);

  event_base* base_;
  std::chrono::milliseconds idleTimeout_;
  size_t maxIdlePerKey_;
  size_t idleCount_ = 0;
  std::unordered_map<std::string, std::list<std::unique_ptr<UpstreamConnection>>> idle_;
};

}  // namespace portcullis::proxy
