#include "daemon/proxy/tunnel.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::toTimeval;
using Clock = std::chrono::steady_clock;

namespace {

// Reads per wake-up while the socket keeps filling the whole chunk: fewer
// trips through epoll_wait for a fast stream, bounded so one busy tunnel
// cannot starve the other connections on this worker.
constexpr int kMaxReadsPerWake = 4;

/// Spare pipes of this worker thread. A tunnel borrows one per direction only
/// while bytes sit in it, so thousands of idle tunnels hold no pipe at all.
class PipePool {
 public:
  static constexpr size_t kMaxSpare = 32;

  static PipePool& local() {
    thread_local PipePool pool;
    return pool;
  }

  /// False when the system is out of descriptors or pipe memory.
  bool take(Tunnel::Pipe& out, size_t bytes) {
    if (!spare_.empty()) {
      out = std::move(spare_.back());
      spare_.pop_back();
      return true;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    out.read = UniqueFd(fds[0]);
    out.write = UniqueFd(fds[1]);
    // A larger pipe moves a whole chunk per splice; the kernel may refuse
    // (pipe-max-size, per-user pipe pages), then the default 64 KiB does.
    int size = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(bytes));
    if (size < 0) size = ::fcntl(fds[1], F_GETPIPE_SZ);
    out.capacity = size > 0 ? static_cast<size_t>(size) : 4096;
    return true;
  }

  /// Only for an empty pipe: bytes left in it would leak into another tunnel.
  void giveBack(Tunnel::Pipe& pipe) {
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(pipe));
    pipe = Tunnel::Pipe{};
  }

 private:
  std::vector<Tunnel::Pipe> spare_;
};

/// Moves whatever a bufferevent still buffers to the end of `out`.
void moveInto(evbuffer* from, std::string& out) {
  // A socket bufferevent's output is frozen at its start (only libevent may
  // take from it); the bufferevent is about to be freed, so lift that.
  evbuffer_unfreeze(from, 1);
  size_t n = evbuffer_get_length(from);
  if (n == 0) return;
  size_t at = out.size();
  out.resize(at + n);
  int got = evbuffer_remove(from, out.data() + at, n);
  out.resize(at + static_cast<size_t>(std::max(got, 0)));
}

/// Frees the bufferevent but keeps its socket, which the caller now owns.
int takeSocket(net::BufferEventPtr bev) {
  int fd = bufferevent_getfd(bev.get());
  bufferevent_disable(bev.get(), EV_READ | EV_WRITE);
  // With no fd left, BEV_OPT_CLOSE_ON_FREE has nothing to close.
  bufferevent_setfd(bev.get(), -1);
  return fd;
}

bool wouldBlock(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

}  // namespace

size_t Tunnel::TokenBucket::available(Clock::time_point now) {
  double elapsed = std::chrono::duration<double>(now - last).count();
  last = now;
  tokens = std::min(capacity, tokens + rate * elapsed);
  return tokens < 1 ? 0 : static_cast<size_t>(tokens);
}

std::chrono::milliseconds Tunnel::TokenBucket::untilFull() const {
  auto wait = std::chrono::duration<double>((capacity - tokens) / rate);
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(wait));
}

Tunnel::Tunnel(net::BufferEventPtr client, net::BufferEventPtr upstream, Options options,
               DoneCallback done)
    : base_(bufferevent_get_base(client.get())), options_(options), done_(std::move(done)) {
  options_.chunkBytes = std::max<size_t>(options_.chunkBytes, 4096);
  // Queued bytes go first, in the order the peer would have seen them: the
  // "200 Connection established" before anything the origin says.
  // Only what the peers sent counts as relayed; the 200 is the session's.
  moveInto(bufferevent_get_output(client.get()), toClient_.pending);
  totals_.upstreamToClient += evbuffer_get_length(bufferevent_get_input(upstream.get()));
  moveInto(bufferevent_get_input(upstream.get()), toClient_.pending);
  moveInto(bufferevent_get_output(upstream.get()), toUpstream_.pending);
  totals_.clientToUpstream += evbuffer_get_length(bufferevent_get_input(client.get()));
  moveInto(bufferevent_get_input(client.get()), toUpstream_.pending);
  clientFd_ = UniqueFd(takeSocket(std::move(client)));
  upstreamFd_ = UniqueFd(takeSocket(std::move(upstream)));
}

Tunnel::~Tunnel() = default;

void Tunnel::setUp(Direction& d, int from, int to, uint64_t* counter) {
  d.tunnel = this;
  d.from = from;
  d.to = to;
  d.counter = counter;
  d.readable.reset(event_new(base_, from, EV_READ | EV_PERSIST, &Tunnel::onReadable, &d));
  d.writable.reset(event_new(base_, to, EV_WRITE | EV_PERSIST, &Tunnel::onWritable, &d));
  d.refill.reset(evtimer_new(base_, &Tunnel::onRefill, &d));
  if (options_.bandwidth > 0) {
    d.bucket.rate = static_cast<double>(options_.bandwidth);
    d.bucket.capacity = std::max(1.0, d.bucket.rate / 10);  // like the bufferevent limit: 100 ms
    d.bucket.tokens = d.bucket.capacity;
    d.bucket.last = Clock::now();
  }
}

void Tunnel::start() {
  lastActivity_ = Clock::now();
  setUp(toUpstream_, clientFd_.get(), upstreamFd_.get(), &totals_.clientToUpstream);
  setUp(toClient_, upstreamFd_.get(), clientFd_.get(), &totals_.upstreamToClient);
  idleTimer_.reset(evtimer_new(base_, &Tunnel::onIdleTimer, this));
  for (Direction* d : {&toUpstream_, &toClient_}) {
    if (!d->readable || !d->writable || !d->refill || !idleTimer_ || d->from < 0 || d->to < 0) {
      finish("tunnel setup failed");
      return;
    }
  }
  timeval idle = toTimeval(options_.idleTimeout);
  evtimer_add(idleTimer_.get(), &idle);
  for (Direction* d : {&toUpstream_, &toClient_}) {
    if (d->pending.empty()) {
      event_add(d->readable.get(), nullptr);
    } else if (flushPending(*d)) {
      resumeReading(*d);
    } else if (!finished_) {
      event_add(d->writable.get(), nullptr);
    }
    if (finished_) return;
  }
}

void Tunnel::onReadable(evutil_socket_t, short, void* arg) noexcept {
  auto& d = *static_cast<Direction*>(arg);
  d.tunnel->relay(d);
}

void Tunnel::relay(Direction& d) {
  PipePool& pool = PipePool::local();
  for (int round = 0; round < kMaxReadsPerWake; ++round) {
    if (!d.pipe.valid() && !pool.take(d.pipe, options_.chunkBytes)) {
      finish("tunnel pipe: " + std::string(std::strerror(errno)));
      return;
    }
    size_t want = std::min(options_.chunkBytes, d.pipe.capacity);
    if (d.bucket.rate > 0) {
      want = std::min(want, d.bucket.available(Clock::now()));
      if (want == 0) {
        // Out of tokens: stop reading this side until the bucket refills.
        pool.giveBack(d.pipe);
        event_del(d.readable.get());
        timeval tv = toTimeval(d.bucket.untilFull());
        evtimer_add(d.refill.get(), &tv);
        return;
      }
    }
    ssize_t n = ::splice(d.from, nullptr, d.pipe.write.get(), nullptr, want,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n <= 0) {
      int err = errno;
      pool.giveBack(d.pipe);  // nothing went in
      if (n == 0) {
        endOfInput(d);
      } else if (!wouldBlock(err)) {
        finish("connection error");
      }
      return;
    }
    lastActivity_ = Clock::now();
    *d.counter += static_cast<size_t>(n);
    if (d.bucket.rate > 0) d.bucket.tokens -= static_cast<double>(n);
    d.inPipe = static_cast<size_t>(n);
    if (!flushPending(d)) {
      if (finished_) return;
      // The other side is full: the rest waits in the pipe (at most one
      // chunk) and this side is not read until it is written. Backpressure.
      event_del(d.readable.get());
      event_add(d.writable.get(), nullptr);
      return;
    }
    if (static_cast<size_t>(n) < want) return;  // the socket is drained for now
  }
}

bool Tunnel::flushPending(Direction& d) {
  while (d.pendingOffset < d.pending.size()) {
    ssize_t w = ::send(d.to, d.pending.data() + d.pendingOffset, d.pending.size() - d.pendingOffset,
                       MSG_NOSIGNAL);
    if (w < 0) {
      if (!wouldBlock(errno)) finish("connection error");
      return false;
    }
    d.pendingOffset += static_cast<size_t>(w);
  }
  if (!d.pending.empty()) {
    std::string().swap(d.pending);
    d.pendingOffset = 0;
  }
  while (d.inPipe > 0) {
    ssize_t w = ::splice(d.pipe.read.get(), nullptr, d.to, nullptr, d.inPipe,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (w <= 0) {
      if (w < 0 && !wouldBlock(errno)) finish("connection error");
      return false;
    }
    d.inPipe -= static_cast<size_t>(w);
  }
  if (d.pipe.valid()) PipePool::local().giveBack(d.pipe);
  return true;
}

void Tunnel::onWritable(evutil_socket_t, short, void* arg) noexcept {
  auto& d = *static_cast<Direction*>(arg);
  Tunnel& self = *d.tunnel;
  if (!self.flushPending(d)) return;
  event_del(d.writable.get());
  self.resumeReading(d);
}

void Tunnel::resumeReading(Direction& d) {
  if (d.eof) {
    endOfInput(d);
    return;
  }
  event_add(d.readable.get(), nullptr);
}

void Tunnel::endOfInput(Direction& d) {
  d.eof = true;
  event_del(d.readable.get());
  if (!d.pending.empty() || d.inPipe > 0) return;  // onWritable comes back here once written
  // Half-close (RFC 9110 §9.3.6: the tunnel lasts until both sides close):
  // pass the EOF on and keep relaying the other way.
  ::shutdown(d.to, SHUT_WR);
  d.done = true;
  if (toUpstream_.done && toClient_.done) finish({});
}

void Tunnel::onRefill(evutil_socket_t, short, void* arg) noexcept {
  auto& d = *static_cast<Direction*>(arg);
  if (!d.tunnel->finished_ && !d.eof) event_add(d.readable.get(), nullptr);
}

void Tunnel::onIdleTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Tunnel*>(arg);
  auto idleFor = Clock::now() - self->lastActivity_;
  if (idleFor >= self->options_.idleTimeout) {
    self->finish("tunnel idle timeout");
    return;
  }
  // Busy since the timer was set: check again when the idle time could be up.
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(self->options_.idleTimeout - idleFor);
  timeval tv = toTimeval(std::max(left, std::chrono::milliseconds(1)));
  evtimer_add(self->idleTimer_.get(), &tv);
}

void Tunnel::finish(std::string error) {
  if (finished_) return;
  finished_ = true;
  totals_.error = std::move(error);
  for (Direction* d : {&toUpstream_, &toClient_}) {
    for (auto* ev : {d->readable.get(), d->writable.get(), d->refill.get()}) {
      if (ev != nullptr) event_del(ev);
    }
  }
  if (idleTimer_) evtimer_del(idleTimer_.get());
  // Close now so both peers see the end at once, not when the session is reaped.
  clientFd_.reset();
  upstreamFd_.reset();
  if (done_) done_(totals_);  // the owner deletes us later, not now
}

}  // namespace portcullis::proxy
