#include "daemon/proxy/buffer_tunnel.h"

#include <event2/buffer.h>
#include <sys/socket.h>

namespace portcullis::proxy {

BufferTunnel::BufferTunnel(net::BufferEventPtr client, net::BufferEventPtr upstream,
                           Tunnel::Options options, Tunnel::DoneCallback done)
    : client_(std::move(client)),
      upstream_(std::move(upstream)),
      options_(options),
      done_(std::move(done)) {
  clientSide_ = Side{this, client_.get(), &upstreamSide_, &totals_.clientToUpstream};
  upstreamSide_ = Side{this, upstream_.get(), &clientSide_, &totals_.upstreamToClient};
}

BufferTunnel::~BufferTunnel() = default;

void BufferTunnel::start() {
  lastActivity_ = std::chrono::steady_clock::now();
  for (Side* s : {&clientSide_, &upstreamSide_}) {
    bufferevent_setcb(s->bev, &BufferTunnel::onRead, &BufferTunnel::onWrite, &BufferTunnel::onEvent,
                      s);
    bufferevent_setwatermark(s->bev, EV_WRITE, options_.chunkBytes / 2, 0);
    bufferevent_set_timeouts(s->bev, nullptr, nullptr);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
  }
  idleTimer_.reset(
      event_new(bufferevent_get_base(client_.get()), -1, EV_PERSIST, &BufferTunnel::onIdle, this));
  timeval second{1, 0};
  event_add(idleTimer_.get(), &second);
  // Bytes the client sent after CONNECT, or the origin sent first.
  relay(clientSide_);
  relay(upstreamSide_);
}

void BufferTunnel::relay(Side& from) {
  if (finished_) return;
  evbuffer* in = bufferevent_get_input(from.bev);
  const size_t n = evbuffer_get_length(in);
  if (n > 0) {
    *from.counter += n;
    lastActivity_ = std::chrono::steady_clock::now();
    evbuffer_add_buffer(bufferevent_get_output(from.peer->bev), in);
  }
  // Backpressure: stop reading while the peer has a chunk waiting.
  if (evbuffer_get_length(bufferevent_get_output(from.peer->bev)) >= options_.chunkBytes) {
    bufferevent_disable(from.bev, EV_READ);
  }
}

void BufferTunnel::onRead(bufferevent*, void* arg) noexcept {
  auto* side = static_cast<Side*>(arg);
  try {
    side->tunnel->relay(*side);
  } catch (...) {
    side->tunnel->finish("exception");
  }
}

void BufferTunnel::onWrite(bufferevent*, void* arg) noexcept {
  // This side's output drained below half a chunk: its peer may read again.
  auto* side = static_cast<Side*>(arg);
  try {
    BufferTunnel& t = *side->tunnel;
    if (t.finished_) return;
    if (!side->peer->eof) bufferevent_enable(side->peer->bev, EV_READ);
    t.checkDone(*side->peer);
  } catch (...) {
    side->tunnel->finish("exception");
  }
}

void BufferTunnel::checkDone(Side& from) {
  if (finished_ || !from.eof || from.done) return;
  if (evbuffer_get_length(bufferevent_get_output(from.peer->bev)) > 0) return;
  from.done = true;
  if (from.peer == &upstreamSide_) {
    // RFC 9110 §9.3.6: the client's half-close goes on to the origin.
    ::shutdown(bufferevent_getfd(upstream_.get()), SHUT_WR);
  } else {
    // TLS has no half-close we could forward: the origin has said all it
    // will and the client has it all, so the tunnel is over.
    finish({});
    return;
  }
  if (clientSide_.done && upstreamSide_.done) finish({});
}

void BufferTunnel::onEvent(bufferevent*, short what, void* arg) noexcept {
  auto* side = static_cast<Side*>(arg);
  BufferTunnel& t = *side->tunnel;
  try {
    if (t.finished_) return;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
      t.relay(*side);
      side->eof = true;
      bufferevent_disable(side->bev, EV_READ);
      t.checkDone(*side);
      return;
    }
    t.finish(side == &t.clientSide_ ? "client connection error" : "upstream connection error");
  } catch (...) {
    t.finish("exception");
  }
}

void BufferTunnel::onIdle(evutil_socket_t, short, void* arg) noexcept {
  auto* t = static_cast<BufferTunnel*>(arg);
  try {
    if (std::chrono::steady_clock::now() - t->lastActivity_ >= t->options_.idleTimeout) {
      t->finish("tunnel idle timeout");
    }
  } catch (...) {
    t->finish("exception");
  }
}

void BufferTunnel::finish(std::string error) {
  if (finished_) return;
  finished_ = true;
  if (idleTimer_) event_del(idleTimer_.get());
  bufferevent_disable(client_.get(), EV_READ | EV_WRITE);
  bufferevent_disable(upstream_.get(), EV_READ | EV_WRITE);
  totals_.error = std::move(error);
  if (done_) done_(totals_);
}

}  // namespace portcullis::proxy
