#include "daemon/proxy/tunnel.h"

#include <event2/buffer.h>

#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::toTimeval;

Tunnel::Tunnel(net::BufferEventPtr client, net::BufferEventPtr upstream, size_t watermark,
               std::chrono::milliseconds idleTimeout, DoneCallback done)
    : watermark_(watermark), idleTimeout_(idleTimeout), done_(std::move(done)) {
  client_.bev = std::move(client);
  upstream_.bev = std::move(upstream);
}

Tunnel::~Tunnel() = default;

void Tunnel::start() {
  lastActivity_ = std::chrono::steady_clock::now();
  timeval idle = toTimeval(idleTimeout_);
  for (Side* s : {&client_, &upstream_}) {
    bufferevent_setcb(s->bev.get(), &Tunnel::onRead, &Tunnel::onWrite, &Tunnel::onEvent, this);
    bufferevent_setwatermark(s->bev.get(), EV_READ, 0, watermark_);
    bufferevent_setwatermark(s->bev.get(), EV_WRITE, watermark_ / 2, 0);
    bufferevent_set_timeouts(s->bev.get(), &idle, nullptr);
    bufferevent_enable(s->bev.get(), EV_READ | EV_WRITE);
  }
  relay(client_, upstream_, totals_.clientToUpstream);
}

void Tunnel::relay(Side& from, Side& to, uint64_t& counter) {
  evbuffer* in = bufferevent_get_input(from.bev.get());
  evbuffer* out = bufferevent_get_output(to.bev.get());
  size_t n = evbuffer_get_length(in);
  if (n > 0) {
    evbuffer_remove_buffer(in, out, n);
    counter += n;
    lastActivity_ = std::chrono::steady_clock::now();
  }
  // Backpressure: stop reading this side until the other side drains.
  if (evbuffer_get_length(out) >= watermark_) bufferevent_disable(from.bev.get(), EV_READ);
}

void Tunnel::onRead(bufferevent* bev, void* arg) noexcept {
  auto* self = static_cast<Tunnel*>(arg);
  bool fromClient = bev == self->client_.bev.get();
  self->relay(self->sideOf(bev), self->otherOf(bev),
              fromClient ? self->totals_.clientToUpstream : self->totals_.upstreamToClient);
}

void Tunnel::onWrite(bufferevent* bev, void* arg) noexcept {
  auto* self = static_cast<Tunnel*>(arg);
  Side& drained = self->sideOf(bev);
  Side& other = self->otherOf(bev);
  if (other.eof) {
    // The other side closed and everything it sent has now been written.
    if (evbuffer_get_length(bufferevent_get_output(drained.bev.get())) == 0) self->finish({});
    return;
  }
  if (!other.eof) bufferevent_enable(other.bev.get(), EV_READ);
}

void Tunnel::onEvent(bufferevent* bev, short what, void* arg) noexcept {
  auto* self = static_cast<Tunnel*>(arg);
  Side& side = self->sideOf(bev);
  Side& other = self->otherOf(bev);
  if (what & BEV_EVENT_TIMEOUT) {
    auto idleFor = std::chrono::steady_clock::now() - self->lastActivity_;
    if (idleFor < self->idleTimeout_) {
      bufferevent_enable(bev, EV_READ);  // the other direction is busy: keep going
      return;
    }
    self->finish("tunnel idle timeout");
    return;
  }
  if (what & BEV_EVENT_EOF) {
    side.eof = true;
    // Forward what is left, then half-close by closing once flushed.
    bool fromClient = bev == self->client_.bev.get();
    self->relay(side, other,
                fromClient ? self->totals_.clientToUpstream : self->totals_.upstreamToClient);
    if (other.eof || evbuffer_get_length(bufferevent_get_output(other.bev.get())) == 0) {
      self->finish({});
    }
    return;
  }
  if (what & BEV_EVENT_ERROR) self->finish("connection error");
}

void Tunnel::finish(std::string error) {
  if (finished_) return;
  finished_ = true;
  totals_.error = std::move(error);
  bufferevent_disable(client_.bev.get(), EV_READ | EV_WRITE);
  bufferevent_disable(upstream_.bev.get(), EV_READ | EV_WRITE);
  if (done_) done_(totals_);  // the owner deletes us later, not now
}

}  // namespace portcullis::proxy
