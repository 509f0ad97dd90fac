#pragma once
// A CONNECT tunnel: bytes both ways between two bufferevents, with
// backpressure (a side stops reading while the other side's output is above
// the watermark) and an idle timeout across both directions.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "daemon/net/libevent_handles.h"

namespace portcullis::proxy {

class Tunnel {
 public:
  struct Totals {
    uint64_t clientToUpstream = 0;
    uint64_t upstreamToClient = 0;
    std::string error;  ///< empty on a clean close by either side
  };
  using DoneCallback = std::function<void(const Totals&)>;

  /// Takes over both bufferevents (their callbacks are replaced). Bytes
  /// already in the client's input are forwarded at once.
  Tunnel(net::BufferEventPtr client, net::BufferEventPtr upstream, size_t watermark,
         std::chrono::milliseconds idleTimeout, DoneCallback done);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  void start();
  const Totals& totals() const { return totals_; }

 private:
  struct Side {
    net::BufferEventPtr bev;
    bool eof = false;
  };
  static void onRead(bufferevent* bev, void* arg) noexcept;
  static void onWrite(bufferevent* bev, void* arg) noexcept;
  static void onEvent(bufferevent* bev, short what, void* arg) noexcept;
  void relay(Side& from, Side& to, uint64_t& counter);
  void finish(std::string error);
  Side& sideOf(bufferevent* bev) { return bev == client_.bev.get() ? client_ : upstream_; }
  Side& otherOf(bufferevent* bev) { return bev == client_.bev.get() ? upstream_ : client_; }

  Side client_;
  Side upstream_;
  size_t watermark_;
  std::chrono::milliseconds idleTimeout_;
  std::chrono::steady_clock::time_point lastActivity_;
  DoneCallback done_;
  Totals totals_;
  bool finished_ = false;
};

}  // namespace portcullis::proxy
