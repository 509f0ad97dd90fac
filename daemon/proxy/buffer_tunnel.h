#pragma once
// A CONNECT tunnel whose client side is a TLS bufferevent (the TLS proxy
// port): the tunnelled bytes are decrypted from the client's TLS and
// relayed to the plain upstream socket, so splice(2) (tunnel.h) cannot be
// used. A classic libevent relay between two bufferevents instead, with
// watermark backpressure: a direction stops reading while the other
// side's output holds more than `chunkBytes`.
//
// Per direction: reading --EOF--> flushing --output empty--> done (the
// upstream gets shutdown(SHUT_WR); TLS has no half-close, so the client's
// end closes the tunnel once both directions are done or the client's
// direction ends and the upstream's output is empty). Any error, or no byte
// either way for the idle timeout, ends it.

#include <chrono>

#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/tunnel.h"

namespace portcullis::proxy {

class BufferTunnel {
 public:
  /// Takes both bufferevents; queued bytes keep their order. `done` is
  /// called once from a libevent callback; delete the tunnel later. The
  /// bandwidth option is not applied here (TLS tunnels are paced by the
  /// client bufferevent's own rate limit when set).
  BufferTunnel(net::BufferEventPtr client, net::BufferEventPtr upstream, Tunnel::Options options,
               Tunnel::DoneCallback done);
  ~BufferTunnel();
  BufferTunnel(const BufferTunnel&) = delete;
  BufferTunnel& operator=(const BufferTunnel&) = delete;

  void start();
  /// Ends the tunnel now with `why` as the error (done is called).
  void stop(std::string why) { finish(std::move(why)); }

 private:
  struct Side {
    BufferTunnel* tunnel = nullptr;
    bufferevent* bev = nullptr;
    Side* peer = nullptr;
    uint64_t* counter = nullptr;  ///< bytes read from this side
    bool eof = false;
    bool done = false;  ///< EOF seen and everything it sent written to the peer
  };
  static void onRead(bufferevent* bev, void* arg) noexcept;
  static void onWrite(bufferevent* bev, void* arg) noexcept;
  static void onEvent(bufferevent* bev, short what, void* arg) noexcept;
  static void onIdle(evutil_socket_t, short, void* arg) noexcept;
  void relay(Side& from);
  void checkDone(Side& from);
  void finish(std::string error);

  net::BufferEventPtr client_;
  net::BufferEventPtr upstream_;
  Side clientSide_;
  Side upstreamSide_;
  Tunnel::Options options_;
  Tunnel::DoneCallback done_;
  Tunnel::Totals totals_;
  net::EventPtr idleTimer_;
  std::chrono::steady_clock::time_point lastActivity_;
  bool finished_ = false;
};

}  // namespace portcullis::proxy
