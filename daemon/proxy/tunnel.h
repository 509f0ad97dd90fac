#pragma once
// A CONNECT tunnel: bytes both ways between the client and the upstream
// socket. The tunnel takes the two sockets out of their bufferevents and
// relays with splice(2) through a pipe on persistent events, so the steady
// state is epoll_wait -> splice in -> splice out: no epoll_ctl and no copy of
// the bytes into user space.
//
// Per direction (client->upstream, upstream->client):
//   reading   --partial write-->  draining (EV_READ off, EV_WRITE on; the pipe holds the rest)
//   draining  --all written---->  reading  (or shutdown(SHUT_WR) after EOF)
//   reading   --EOF------------>  done     (half-close forwarded)
// The tunnel ends when both directions are done, on any socket error, or when
// no byte moved either way for the idle timeout.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "daemon/base/unique_handle.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::proxy {

class Tunnel {
 public:
  struct Totals {
    uint64_t clientToUpstream = 0;
    uint64_t upstreamToClient = 0;
    std::string error;  ///< empty on a clean close by both sides
  };
  using DoneCallback = std::function<void(const Totals&)>;

  struct Options {
    /// Largest single read, and so the most bytes one direction ever holds in
    /// user space while the other socket is not writable.
    size_t chunkBytes = 256 * 1024;
    std::chrono::milliseconds idleTimeout{std::chrono::minutes(5)};
    /// Bytes per second per direction ([[limit]] bandwidth); 0 = unlimited.
    uint64_t bandwidth = 0;
  };

  /// Takes over both bufferevents and frees them, keeping their sockets. Bytes
  /// still queued in them (the "200 Connection established" in the client's
  /// output, bytes the client pipelined after CONNECT, bytes the origin sent
  /// first) are relayed in order before anything read later.
  /// Runs on the worker thread that owns both bufferevents. splice(2) has no
  /// MSG_NOSIGNAL: the process must ignore SIGPIPE (main does). `done` is called
  /// once, from a libevent callback; the owner must delete the Tunnel later,
  /// not inside `done`.
  Tunnel(net::BufferEventPtr client, net::BufferEventPtr upstream, Options options,
         DoneCallback done);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  void start();
  /// Closes both sockets now and reports `why` as the error (done is called).
  void stop(std::string why) { finish(std::move(why)); }
  const Totals& totals() const { return totals_; }

  /// A pipe that carries one direction's bytes between two splice(2) calls.
  /// Borrowed from a per-thread pool only while it holds bytes.
  struct Pipe {
    UniqueFd read;
    UniqueFd write;
    size_t capacity = 0;
    bool valid() const { return read.valid(); }
  };

 private:
  /// Refills continuously at `rate` bytes/s up to a tenth of a second's worth.
  struct TokenBucket {
    double rate = 0;  ///< 0 = unlimited
    double capacity = 0;
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
    size_t available(std::chrono::steady_clock::time_point now);
    std::chrono::milliseconds untilFull() const;
  };

  /// One way through the tunnel: bytes read from `from` are written to `to`.
  struct Direction {
    Tunnel* tunnel = nullptr;
    int from = -1;
    int to = -1;
    net::EventPtr readable;  ///< persistent EV_READ on `from`
    net::EventPtr writable;  ///< persistent EV_WRITE on `to`, only while draining
    net::EventPtr refill;    ///< one-shot timer while the bucket is empty
    std::string pending;     ///< bytes the bufferevents held at the start, until written
    size_t pendingOffset = 0;
    Pipe pipe;  ///< spliced in but not yet out; empty when idle
    size_t inPipe = 0;
    bool eof = false;   ///< `from` said EOF
    bool done = false;  ///< EOF forwarded with shutdown(to, SHUT_WR)
    uint64_t* counter = nullptr;
    TokenBucket bucket;
  };

  static void onReadable(evutil_socket_t, short, void* arg) noexcept;
  static void onWritable(evutil_socket_t, short, void* arg) noexcept;
  static void onRefill(evutil_socket_t, short, void* arg) noexcept;
  static void onIdleTimer(evutil_socket_t, short, void* arg) noexcept;
  void setUp(Direction& d, int from, int to, uint64_t* counter);
  void relay(Direction& d);
  /// Writes d.pending, then what is in d.pipe; false when the socket would
  /// block (or on error, after finish()).
  bool flushPending(Direction& d);
  void endOfInput(Direction& d);
  void resumeReading(Direction& d);
  void finish(std::string error);

  event_base* base_ = nullptr;
  UniqueFd clientFd_;
  UniqueFd upstreamFd_;
  Direction toUpstream_;
  Direction toClient_;
  Options options_;
  net::EventPtr idleTimer_;
  std::chrono::steady_clock::time_point lastActivity_;
  DoneCallback done_;
  Totals totals_;
  bool finished_ = false;
};

}  // namespace portcullis::proxy
