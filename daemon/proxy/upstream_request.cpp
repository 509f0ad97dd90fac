// UpstreamRequest, request side: connecting (pooled or new, the next
// address on failure), sending the head and pumping the request body.
// The response side is in upstream_response.cpp.

#include "daemon/proxy/upstream_request.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/base/assert.h"
#include "daemon/http/message_writer.h"
#include "daemon/net/large_read.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::toTimeval;

UpstreamRequest::UpstreamRequest(ProxyContext& context, Owner& owner)
    : context_(context), owner_(&owner) {}

UpstreamRequest::~UpstreamRequest() {
  cancelParentDns();
}

std::string_view UpstreamRequest::phaseName(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "Idle";
    case Phase::kConnecting:
      return "Connecting";
    case Phase::kSendingBody:
      return "SendingBody";
    case Phase::kAwaitingHead:
      return "AwaitingHead";
    case Phase::kRelayingBody:
      return "RelayingBody";
    case Phase::kDone:
      return "Done";
  }
  return "?";
}

bool UpstreamRequest::transitionAllowed(Phase from, Phase to) {
  using P = Phase;
  switch (to) {
    case P::kIdle:
      return false;
    case P::kConnecting:  // first try, next address, a stale pooled connection, a refetch
      return from != P::kRelayingBody;
    case P::kSendingBody:
      return from == P::kConnecting;
    case P::kAwaitingHead:
      return from == P::kConnecting || from == P::kSendingBody;
    case P::kRelayingBody:
      return from == P::kAwaitingHead || from == P::kSendingBody;
    case P::kDone:
      return true;
  }
  return false;
}

void UpstreamRequest::enter(Phase to) {
  PC_DEBUG_ASSERT(transitionAllowed(phase_, to), "UpstreamRequest phase transition");
  const Phase from = phase_;
  phase_ = to;
  if (context_.observer != nullptr) {
    context_.observer->onPhase("upstream", phaseName(from), phaseName(to));
  }
}

void UpstreamRequest::start(std::shared_ptr<const config::Config> config,
                            const http::RequestHead& request, const http::Target& target,
                            RequestBody& body, std::vector<acl::IpAddress> addresses) {
  reset(std::move(config), request, target, body);
  addresses_ = std::move(addresses);
  connect();
}

void UpstreamRequest::startViaParents(std::shared_ptr<const config::Config> config,
                                      const http::RequestHead& request, const http::Target& target,
                                      RequestBody& body, std::vector<ParentHop> parents) {
  reset(std::move(config), request, target, body);
  parents_ = std::move(parents);
  connect();
}

void UpstreamRequest::reset(std::shared_ptr<const config::Config> config,
                            const http::RequestHead& request, const http::Target& target,
                            RequestBody& body) {
  config_ = std::move(config);
  request_ = &request;
  target_ = &target;
  body_ = &body;
  cancelParentDns();
  addresses_.clear();
  nextAddress_ = 0;
  pendingSsl_.reset();
  tlsHandshaking_ = false;
  parents_.clear();
  nextParent_ = 0;
  parent_ = nullptr;
  tunnelHandshake_ = false;
  conn_.reset();
  retried_ = false;
  bytesSeen_ = false;
  interimCount_ = 0;
  interimBytes_ = 0;
  response_ = http::ResponseHead{};
  framing_ = http::Framing{};
  clientEncoding_ = BodyEncoding::kNone;
  chunks_ = http::ChunkedDecoder{};
  bodyLeft_ = 0;
  reusable_ = false;
  reader_ = nullptr;
  cut_ = false;
  cutSkip_ = cutLeft_ = 0;
}

void UpstreamRequest::release(bool reusable) {
  cancelParentDns();
  if (conn_) {
    // A connection without a pool (a tunnel's) is closed.
    if (reusable && conn_->pool != nullptr && !context_.shuttingDown()) {
      context_.pool->release(std::move(conn_));
    }
    conn_.reset();
  }
  if (active()) enter(Phase::kDone);
}

void UpstreamRequest::refetch(bool reusable) {
  release(reusable);
  rewind();
  connect();
}

void UpstreamRequest::rewind() {
  if (!parents_.empty()) {
    nextParent_ = nextParent_ > 0 ? nextParent_ - 1 : 0;
    return;
  }
  nextAddress_ = nextAddress_ > 0 ? nextAddress_ - 1 : 0;
}

std::string UpstreamRequest::originAddress() const {
  if (!conn_) return {};
  // Through a parent the origin's address is the parent's to know: stored
  // copies say which parent they came from (CacheStage::mayReadCopyFrom).
  if (parent_ != nullptr) return "parent:" + parent_->name;
  if (auto ip = conn_->address.ip()) return ip->toString();
  return {};
}

std::unique_ptr<UpstreamConnection> UpstreamRequest::takeConnection() {
  if (active()) enter(Phase::kDone);
  return std::move(conn_);
}

void UpstreamRequest::cutForClient(uint64_t skip, uint64_t length) {
  cut_ = true;
  cutSkip_ = skip;
  cutLeft_ = length;
}

void UpstreamRequest::adopt(Owner& owner, const http::RequestHead& request,
                            const http::Target& target, RequestBody& body) {
  owner_ = &owner;
  request_ = &request;
  target_ = &target;
  body_ = &body;
  cut_ = false;  // no client: nothing to cut for
  resumeReading();
}

// ---------------------------------------------------------------- callbacks

void UpstreamRequest::onRead(bufferevent*, void* arg) noexcept {
  guarded(arg, [&](UpstreamRequest* self) {
    self->bytesSeen_ = true;
    if (self->tunnelHandshake_) {
      self->readTunnelReply();
    } else if (self->phase_ == Phase::kAwaitingHead || self->phase_ == Phase::kSendingBody) {
      self->readHead();
    } else if (self->phase_ == Phase::kRelayingBody) {
      net::readMore(self->conn_->bev.get(), self->config_->server.bufferBytes);
      self->pumpBody();
    }
  });
}

void UpstreamRequest::onWrite(bufferevent*, void* arg) noexcept {
  guarded(arg, [&](UpstreamRequest* self) {
    // Upstream drained: take more of the request body from the client.
    if (self->phase_ == Phase::kSendingBody) {
      bufferevent_enable(self->owner_->clientEvents(), EV_READ);
    }
  });
}

void UpstreamRequest::onEvent(bufferevent*, short what, void* arg) noexcept {
  guarded(arg, [&](UpstreamRequest* self) {
    if ((what & BEV_EVENT_CONNECTED) && self->pendingSsl_) {
      self->startParentTls();
    } else if (what & BEV_EVENT_CONNECTED) {
      self->onConnected();
    } else if (self->phase_ == Phase::kConnecting) {
      self->onConnectFailed(what);
    } else {
      self->onClosed(what);
    }
  });
}

// ---------------------------------------------------------------- connecting

void UpstreamRequest::setNoDelay(bufferevent* bev) {
  const evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd < 0) return;
  // Heads and small bodies must not wait for Nagle + delayed ACK (40 ms).
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void UpstreamRequest::connect() {
  if (!parents_.empty()) {
    connectParent();
    return;
  }
  if (nextAddress_ >= addresses_.size()) {
    context_.stats->upstreamError();
    fail(errorReply(Termination::kConnectRefused,
                    "The proxy could not connect to " + target_->authority() + "."),
         "connect failed", false, !body_->done);
    return;
  }
  connectTo(net::SocketAddress::from(addresses_[nextAddress_++], target_->port));
}

void UpstreamRequest::connectTo(const net::SocketAddress& address) {
  const bool isConnect = request_->methodKind == http::Method::kConnect;
  const bool tls = parent_ != nullptr && parent_->tls;
  std::string key = tls ? parentPoolKey(*parent_) : address.toString();
  // Tunnels never share connections (the connection becomes the tunnel);
  // requests may reuse an idle one under the same key.
  conn_ = isConnect ? nullptr : context_.pool->acquire(address, key);
  if (!conn_) {
    conn_ = std::make_unique<UpstreamConnection>();
    conn_->address = address;
    conn_->key = std::move(key);
    conn_->bev.reset(bufferevent_socket_new(context_.base, -1, BEV_OPT_CLOSE_ON_FREE));
  }
  // A pooled TLS connection is past its handshake; a new one gets its SSL
  // now and is wrapped once the TCP connection is up.
  if (tls && !conn_->reused && !prepareParentTls()) conn_->bev.reset();
  owner_->record().upstream = tls ? "tls:" + address.toString() : address.toString();
  if (!conn_->bev) {
    enter(Phase::kConnecting);
    onConnectFailed(BEV_EVENT_ERROR);
    return;
  }
  auto* bev = conn_->bev.get();
  bufferevent_setcb(bev, &UpstreamRequest::onRead, &UpstreamRequest::onWrite,
                    &UpstreamRequest::onEvent, this);
  const auto& server = config_->server;
  bufferevent_setwatermark(bev, EV_READ, 0, server.bufferBytes);
  net::setLargeIo(bev, server.bufferBytes);
  bufferevent_setwatermark(bev, EV_WRITE, server.bufferBytes / 2, 0);
  enter(Phase::kConnecting);
  if (conn_->reused) {
    onConnected();
    return;
  }
  timeval ct = toTimeval(server.connectTimeout);
  bufferevent_set_timeouts(bev, nullptr, &ct);
  if (bufferevent_socket_connect(bev, address.get(), static_cast<int>(address.length)) != 0) {
    onConnectFailed(BEV_EVENT_ERROR);
  }
}

void UpstreamRequest::onConnectFailed(short what) {
  const bool timedOut = (what & BEV_EVENT_TIMEOUT) != 0;
  std::string tlsError = parentTlsError();
  if (timedOut && !tlsError.empty()) tlsError = "the TLS handshake timed out";
  conn_.reset();
  if (parent_ != nullptr && nextParentAddress_ < parentAddresses_.size()) {
    connectParentAddress();  // the parent's name has another address
    return;
  }
  if (parent_ != nullptr) {
    parentConnectFailed(timedOut, std::move(tlsError));
    return;
  }
  if (nextAddress_ < addresses_.size()) {
    connect();
    return;
  }
  context_.stats->upstreamError();
  fail(errorReply(timedOut ? Termination::kConnectTimeout : Termination::kConnectRefused,
                  "The proxy could not connect to " + target_->authority() +
                      (timedOut ? ": the connection attempt timed out."
                                : ": the connection was refused.")),
       timedOut ? "upstream connect timeout" : "upstream connect refused", true, !body_->done);
}

void UpstreamRequest::fail(ErrorReply error, std::string logError, bool mayServeStale, bool close) {
  if (active()) enter(Phase::kDone);
  owner_->upstreamFailed(std::move(error), std::move(logError), mayServeStale, close);
}

void UpstreamRequest::onConnected() {
  tlsHandshaking_ = false;
  const auto& server = config_->server;
  // (A TLS filter has no descriptor: startParentTls set it on the socket.)
  if (!conn_->reused) setNoDelay(conn_->bev.get());
  if (parent_ != nullptr && parent_->state != nullptr) {
    parent_->state->markUp();
    parent_->state->requests.fetch_add(1, std::memory_order_relaxed);
  }
  if (request_->methodKind == http::Method::kConnect) {
    if (parent_ != nullptr) {
      sendTunnelRequest();
      return;
    }
    owner_->upstreamTunnel();
    return;
  }
  firstByteDeadline_ = context_.clock->steadyNow() + server.firstByteTimeout;
  timeval rt = toTimeval(server.firstByteTimeout);
  timeval wt = toTimeval(server.bodyTimeout);
  bufferevent_set_timeouts(conn_->bev.get(), &rt, &wt);
  // EV_WRITE is armed by sendHead only when something must wait for the
  // socket (enabling it arms the event even with nothing to write).
  bufferevent_enable(conn_->bev.get(), EV_READ);
  sendHead();
}

void UpstreamRequest::sendHead() {
  requestSentAt_ = context_.clock->systemNow();
  BodyEncoding enc = BodyEncoding::kNone;
  if (body_->framing.kind == http::BodyKind::kContentLength) enc = BodyEncoding::kContentLength;
  if (body_->framing.kind == http::BodyKind::kChunked) enc = BodyEncoding::kChunked;
  std::string head = owner_->upstreamHead(enc);
  // The connection is established here (fresh or pooled): send the head at
  // once when nothing is queued before it, so a small request costs one
  // send and no EV_WRITE round trip. What the socket does not take, or an
  // error, goes through the bufferevent, which reports errors as usual.
  bufferevent* up = conn_->bev.get();
  size_t sent = 0;
  // Never past TLS (a TLS parent): its bytes go through the bufferevent.
  const bool plain = parent_ == nullptr || !parent_->tls;
  if (plain && evbuffer_get_length(bufferevent_get_output(up)) == 0) {
    ssize_t n = ::send(bufferevent_getfd(up), head.data(), head.size(), MSG_NOSIGNAL);
    if (n > 0) sent = static_cast<size_t>(n);
  }
  if (sent < head.size() || !body_->done) {
    bufferevent_enable(up, EV_WRITE);
    if (sent < head.size()) bufferevent_write(up, head.data() + sent, head.size() - sent);
  } else {
    bufferevent_disable(up, EV_WRITE);  // nothing to send: no write event
  }
  if (body_->done) {
    enter(Phase::kAwaitingHead);
    return;
  }
  enter(Phase::kSendingBody);
  // A client that stalls mid-body is cut after body_timeout, not blamed on the origin.
  bufferevent* client = owner_->clientEvents();
  timeval rt = toTimeval(config_->server.bodyTimeout);
  timeval wt = toTimeval(config_->server.bodyTimeout);
  bufferevent_set_timeouts(client, &rt, &wt);
  bufferevent_enable(client, EV_READ);
  pumpRequestBody();
}

void UpstreamRequest::onClientReadable() {
  if (phase_ != Phase::kSendingBody) return;
  net::readMore(owner_->clientEvents(), config_->server.bufferBytes);
  pumpRequestBody();
}

void UpstreamRequest::pumpRequestBody() {
  auto& b = *body_;
  auto& record = owner_->record();
  bufferevent* client = owner_->clientEvents();
  evbuffer* in = bufferevent_get_input(client);
  evbuffer* out = bufferevent_get_output(conn_->bev.get());
  size_t avail = evbuffer_get_length(in);
  if (b.framing.kind == http::BodyKind::kContentLength) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(avail, b.left));
    if (n > 0) evbuffer_remove_buffer(in, out, n);
    b.left -= n;
    record.bytesIn += n;
    b.done = b.left == 0;
  } else if (avail > 0) {
    const char* data =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(avail)));
    scratch_.clear();
    auto outcome = b.chunks.decode(std::string_view(data, avail), scratch_);
    if (outcome.status == http::ParseStatus::kInvalid) {
      release(false);
      owner_->requestBodyInvalid(outcome.reason);
      return;
    }
    size_t used = outcome.status == http::ParseStatus::kDone ? outcome.consumed : avail;
    evbuffer_drain(in, used);
    record.bytesIn += used;
    std::string chunk;
    if (!scratch_.empty()) http::appendChunk(chunk, scratch_);
    if (outcome.status == http::ParseStatus::kDone) {
      http::appendLastChunk(chunk);
      b.done = true;
    }
    if (!chunk.empty()) evbuffer_add(out, chunk.data(), chunk.size());
  }
  if (b.done) {
    if (phase_ == Phase::kSendingBody) enter(Phase::kAwaitingHead);
    timeval wt = toTimeval(config_->server.bodyTimeout);
    bufferevent_set_timeouts(client, nullptr, &wt);
    bufferevent_disable(client, EV_READ);
    return;
  }
  if (evbuffer_get_length(out) >= config_->server.bufferBytes) {
    bufferevent_disable(client, EV_READ);  // resumed by onWrite
  }
}

}  // namespace portcullis::proxy
