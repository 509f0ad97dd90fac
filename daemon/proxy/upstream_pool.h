#pragma once
// Keep-alive connections to origins, per worker. A connection is keyed by
// the address it is connected to; an idle one that the origin closes (or
// that talks out of turn) is dropped at once.

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
  net::BufferEventPtr bev;
  net::SocketAddress address;
  std::string key;       ///< address text
  bool reused = false;   ///< came out of the pool: may have been closed meanwhile
  UpstreamPool* pool = nullptr;
};

class UpstreamPool {
 public:
  UpstreamPool(event_base* base, std::chrono::milliseconds idleTimeout, size_t maxIdlePerKey);
  ~UpstreamPool();

  /// An idle connection to `address`, or a new one that is connecting
  /// (callbacks not set: the caller sets its own and watches BEV_EVENT_CONNECTED).
  std::unique_ptr<UpstreamConnection> acquire(const net::SocketAddress& address);
  /// Returns a connection whose last response was completely read.
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
