#include "daemon/proxy/client_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "acl/policy_impl.h"
#include "daemon/admin/stats.h"
#include "daemon/base/assert.h"
#include "daemon/http/head_parser.h"
#include "daemon/net/large_read.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::protocolError;
using detail::requestTimeout;
using detail::toTimeval;

ClientConnection::ClientConnection(ProxyContext& context, int fd, const net::SocketAddress& peer,
                                   acl::IpAddress clientIp, net::SslPtr ssl,
                                   std::optional<TransparentDestination> transparent)
    : context_(context),
      peer_(peer),
      clientIp_(clientIp),
      clientText_(peer.toString()),
      transparent_(std::move(transparent)) {
  if (ssl) {
    tls_ = true;
    // The bufferevent owns the SSL (and the socket) from here, even on failure.
    client_.reset(bufferevent_openssl_socket_new(context.base, fd, ssl.release(),
                                                 BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE));
    // Browsers and curl often close without close_notify: an EOF, not an error.
    if (client_) bufferevent_openssl_set_allow_dirty_shutdown(client_.get(), 1);
  } else {
    client_.reset(bufferevent_socket_new(context.base, fd, BEV_OPT_CLOSE_ON_FREE));
  }
  headTimer_.reset(evtimer_new(context.base, &ClientConnection::onHeadTimer, this));
  resumeEvent_.reset(event_new(context.base, -1, 0, &ClientConnection::onResume, this));
  clientFlush_.reset(event_new(context.base, -1, 0, &ClientConnection::onClientFlush, this));
  config_ = context.config();
}

ClientConnection::~ClientConnection() {
  if (state_ != State::kClosed) close();
}

bool ClientConnection::transitionAllowed(State from, State to) {
  using S = State;
  if (from == S::kClosed) return false;
  switch (to) {
    case S::kClosed:
    case S::kFlushingThenClose:
      return true;         // any state may end the connection
    case S::kReadingHead:  // a request ended (or a bad head was answered) and the connection is
                           // kept
      return from == S::kExchange || from == S::kReadingHead;
    case S::kExchange:
      return from == S::kReadingHead;
    case S::kTunnel:
      return from == S::kExchange;
  }
  return false;
}

std::string_view ClientConnection::stateName(State s) {
  switch (s) {
    case State::kReadingHead:
      return "ReadingHead";
    case State::kExchange:
      return "Exchange";
    case State::kTunnel:
      return "Tunnel";
    case State::kFlushingThenClose:
      return "FlushingThenClose";
    case State::kClosed:
      return "Closed";
  }
  return "?";
}

void ClientConnection::enter(State to) {
  PC_DEBUG_ASSERT(transitionAllowed(state_, to), "ClientConnection state transition");
  const State from = state_;
  state_ = to;
  if (context_.observer != nullptr) {
    context_.observer->onPhase("connection", stateName(from), stateName(to));
  }
}

void ClientConnection::start() {
  if (!client_) {
    close();
    return;
  }
  const auto& server = config_->server;
  size_t highWater = std::max(server.bufferBytes, server.maxHeaderBytes + server.maxRequestLine);
  bufferevent_setcb(client_.get(), &ClientConnection::onClientRead,
                    &ClientConnection::onClientWrite, &ClientConnection::onClientEvent, this);
  bufferevent_setwatermark(client_.get(), EV_READ, 0, highWater);
  net::setLargeIo(client_.get(), server.bufferBytes);
  bufferevent_setwatermark(client_.get(), EV_WRITE, server.bufferBytes / 2, 0);
  timeval wt = toTimeval(server.bodyTimeout);
  bufferevent_set_timeouts(client_.get(), nullptr, &wt);
  bufferevent_enable(client_.get(), EV_READ);
  if (!tls_) {
    // EV_WRITE (on by default in a new bufferevent) only when a write would
    // block. TLS records are written by the OpenSSL bufferevent only.
    bufferevent_disable(client_.get(), EV_WRITE);
    outputWatch_ = evbuffer_add_cb(bufferevent_get_output(client_.get()),
                                   &ClientConnection::onClientOutputAdded, this);
  }
  applyLimits();
  armHeadTimer(server.headerTimeout);
}

void ClientConnection::applyLimits() {
  const uint64_t oldBandwidth = limit_ ? limit_->bandwidth : 0;
  limit_.reset();
  const auto& sources = config_->policy->impl().sources;
  for (const auto& limit : config_->limits) {
    if (limit.sourceIndex < sources.size() &&
        sources[limit.sourceIndex].cidrs.contains(clientIp_)) {
      limit_ = limit;
      break;
    }
  }
  const uint64_t bandwidth = limit_ ? limit_->bandwidth : 0;
  if (bandwidth == oldBandwidth) return;
  if (bandwidth == 0) {
    bufferevent_set_rate_limit(client_.get(), nullptr);
    bandwidth_.reset();
    return;
  }
  // A delay pool per connection: libevent paces what we write to the client.
  const auto rate = static_cast<size_t>(bandwidth);
  timeval tick{0, 100000};  // refill ten times a second for smooth pacing
  decltype(bandwidth_) bucket(ev_token_bucket_cfg_new(EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX,
                                                      std::max<size_t>(1, rate / 10), rate, &tick));
  // libevent keeps a pointer to the bucket config: install the new one
  // before the old one is freed.
  if (bucket) bufferevent_set_rate_limit(client_.get(), bucket.get());
  bandwidth_ = std::move(bucket);
}

bool ClientConnection::takeRequestToken(std::string& limitName) {
  if (!limit_ || limit_->requestsPerSecond <= 0) return true;
  if (context_.rateLimiter->take(clientIp_, limit_->requestsPerSecond, limit_->burst,
                                 context_.clock->steadyNow())) {
    return true;
  }
  limitName = limit_->name;
  return false;
}

void ClientConnection::noteRefusal() {
  const auto& config = config_ ? *config_ : *context_.config();
  if (config.abuse.refusalsToBlock == 0) return;
  // Clients of an allowed network are not blocked unless the admin says so.
  if (!config.abuse.blockAllowedSources && config.policy->evaluateSource(clientIp_).allowed())
    return;
  AbuseGuard::Options o;
  o.refusalsToBlock = config.abuse.refusalsToBlock;
  o.window = config.abuse.refusalWindow;
  o.blockFor = config.abuse.blockTime;
  if (context_.abuseGuard->noteRefusal(clientIp_, o, context_.clock->steadyNow())) {
    const auto& hooks = *context_.hooks;
    if (hooks.clientEvent) hooks.clientEvent("client_blocked", clientIp_.toString(), {});
  }
}

void ClientConnection::drain() {
  draining_ = true;
  if (state_ == State::kReadingHead && !headStarted_) close();
}

// ---------------------------------------------------------------- callbacks

void ClientConnection::onClientRead(bufferevent*, void* arg) noexcept {
  guarded(arg, [&](ClientConnection* self) {
    switch (self->state_) {
      case State::kReadingHead:
        self->readHead();
        break;
      case State::kExchange:
        if (self->exchange_.onClientReadable()) break;
        [[fallthrough]];
      default:
        // Pipelined bytes wait in the buffer until this exchange is over.
        bufferevent_disable(self->client_.get(), EV_READ);
        break;
    }
  });
}

void ClientConnection::onClientWrite(bufferevent* bev, void* arg) noexcept {
  guarded(arg, [&](ClientConnection* self) {
    // Back to direct writes once libevent has written everything.
    if (!self->tls_ && !self->bandwidth_ && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
      bufferevent_disable(bev, EV_WRITE);
    }
    self->onClientDrained();
  });
}

void ClientConnection::onClientDrained() {
  if (state_ == State::kFlushingThenClose) {
    if (evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) close();
    return;
  }
  if (state_ == State::kExchange) exchange_.onClientDrained();
}

void ClientConnection::onClientOutputAdded(evbuffer*, const evbuffer_cb_info* info,
                                           void* arg) noexcept {
  auto* self = static_cast<ClientConnection*>(arg);
  if (info->n_added == 0 || self->flushScheduled_ || !self->client_) return;
  if (bufferevent_get_enabled(self->client_.get()) & EV_WRITE) return;  // libevent is on it
  self->flushScheduled_ = true;
  event_active(self->clientFlush_.get(), 0, 0);
}

namespace {
// Responses up to this size (a small hit, a 304, an error page) are written
// at once; larger ones pace through libevent (see onClientFlush).
constexpr size_t kDirectWriteMax = 64 * 1024;
}  // namespace

void ClientConnection::onClientFlush(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [&](ClientConnection* self) {
    self->flushScheduled_ = false;
    if (!self->client_ || self->state_ == State::kClosed) return;
    bufferevent* bev = self->client_.get();
    evbuffer* out = bufferevent_get_output(bev);
    // A rate-limited client is paced by libevent's token bucket. Large
    // responses also go through libevent, a watermark's worth per loop turn:
    // sent in one go from inside the request's callback, a 1 MiB hit made
    // the client side wake for every segment and halved hit throughput.
    const size_t queued = evbuffer_get_length(out);
    if (!self->bandwidth_ && queued <= kDirectWriteMax) {
      const evutil_socket_t fd = bufferevent_getfd(bev);
      // The bufferevent keeps its output's start frozen outside its own
      // writes (only it drains); thaw it for ours, as it does.
      evbuffer_unfreeze(out, 1);
      // Bounded: the socket buffer fills (EAGAIN) long before this ends.
      for (int i = 0; i < 8 && evbuffer_get_length(out) > 0; ++i) {
        if (evbuffer_write(out, fd) <= 0) break;  // EAGAIN, or an error libevent will report
      }
      evbuffer_freeze(out, 1);
    }
    if (evbuffer_get_length(out) > 0) {
      bufferevent_enable(bev, EV_WRITE);
      return;
    }
    self->onClientDrained();
  });
}

void ClientConnection::stopDirectWrites() {
  if (outputWatch_ != nullptr && client_) {
    evbuffer_remove_cb_entry(bufferevent_get_output(client_.get()), outputWatch_);
  }
  outputWatch_ = nullptr;
  if (clientFlush_) event_del(clientFlush_.get());
  flushScheduled_ = false;
}

void ClientConnection::onClientEvent(bufferevent*, short what, void* arg) noexcept {
  guarded(arg, [&](ClientConnection* self) { self->onClientEventIn(what); });
}

void ClientConnection::onClientEventIn(short what) {
  // The TLS handshake is over; the request head follows.
  if (what == BEV_EVENT_CONNECTED) return;
  if (state_ == State::kReadingHead && (what & BEV_EVENT_EOF) &&
      evbuffer_get_length(bufferevent_get_input(client_.get())) > 0) {
    readHead();  // a last request sent just before a half-close
    if (state_ == State::kReadingHead) close();
    return;
  }
  const bool busy = state_ == State::kExchange && exchange_.busy();
  if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && busy) {
    // A half-close after the request: answer it first; the EOF is seen
    // again when reading resumes after the response.
    bufferevent_disable(client_.get(), EV_READ);
    return;
  }
  if (state_ == State::kExchange && (what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
      exchange_.onClientBodyTimeout()) {
    return;
  }
  exchange_.clientGone((what & BEV_EVENT_TIMEOUT) != 0);
  close();
}

void ClientConnection::onHeadTimer(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [&](ClientConnection* self) {
    if (self->state_ != State::kReadingHead) return;
    if (!self->headStarted_) {
      self->close();  // idle keep-alive connection: just close
      return;
    }
    self->exchange_.refuseHead(
        requestTimeout("The request head did not arrive in time.", "header timeout"), 0);
  });
}

void ClientConnection::onResume(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [&](ClientConnection* self) {
    if (self->state_ == State::kReadingHead) self->readHead();
  });
}

// ---------------------------------------------------------------- heads

void ClientConnection::armHeadTimer(std::chrono::milliseconds timeout) {
  timeval tv = toTimeval(timeout);
  evtimer_add(headTimer_.get(), &tv);
}

void ClientConnection::readHead() {
  if (transparent_ && transparent_->tls) {
    readClientHello();
    return;
  }
  evbuffer* in = bufferevent_get_input(client_.get());
  size_t len = evbuffer_get_length(in);
  if (len == 0) return;
  if (!headStarted_) {
    headStarted_ = true;
    armHeadTimer(config_->server.headerTimeout);
  }
  const auto& server = config_->server;
  http::ParseLimits limits;
  limits.maxRequestLine = server.maxRequestLine;
  limits.maxHeaderBytes = server.maxHeaderBytes;
  size_t view = std::min(len, server.maxHeaderBytes + server.maxRequestLine + 4);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(view)));
  http::RequestHead head;
  auto outcome = http::parseRequestHead(std::string_view(data, view), limits, head);
  if (outcome.status == http::ParseStatus::kNeedMore) {
    if (view >= server.maxHeaderBytes + server.maxRequestLine) {
      exchange_.refuseHead(protocolError(431, "the request head is larger than the limit"), 0);
    }
    return;
  }
  if (outcome.status == http::ParseStatus::kInvalid) {
    exchange_.refuseHead(
        protocolError(outcome.errorStatus == 0 ? 400 : outcome.errorStatus, outcome.reason), len);
    return;
  }
  evbuffer_drain(in, outcome.consumed);
  beginExchange(std::move(head), outcome.consumed);
}

void ClientConnection::beginExchange(http::RequestHead head, size_t headBytes) {
  evtimer_del(headTimer_.get());
  headStarted_ = false;
  auto config = context_.config();
  if (config != config_) {
    // A reload happened since the last request: this connection now runs
    // under the new snapshot, limits included.
    config_ = config;
    applyLimits();
  }
  enter(State::kExchange);
  exchange_.begin(std::move(config), std::move(head), headBytes);
}

// ---------------------------------------------------------------- endings

void ClientConnection::exchangeFinished(bool keepAlive) {
  ++requestsServed_;
  if (!keepAlive || draining_) {
    closeAfterFlush();
    return;
  }
  enter(State::kReadingHead);
  headStarted_ = false;
  armHeadTimer(config_->server.clientIdleTimeout);
  bufferevent_enable(client_.get(), EV_READ);
  // A pipelined request may already be buffered: parse it on the next loop
  // turn rather than recursing here.
  if (evbuffer_get_length(bufferevent_get_input(client_.get())) > 0) {
    event_active(resumeEvent_.get(), 0, 0);
  }
}

void ClientConnection::startTunnel(std::unique_ptr<UpstreamConnection> upstream) {
  const auto& server = config_->server;
  enter(State::kTunnel);
  evtimer_del(headTimer_.get());
  stopDirectWrites();  // the tunnel takes the sockets (and what is queued) from here on
  Tunnel::Options options;
  options.chunkBytes = server.bufferBytes;
  options.idleTimeout = server.tunnelIdleTimeout;
  // The client's bufferevent rate limit goes away with the bufferevent: the
  // tunnel paces both directions itself.
  options.bandwidth = limit_ ? limit_->bandwidth : 0;
  // A tunnel through a TLS parent is inside the parent's TLS session: it too
  // relays through the bufferevents.
  if (tls_ || bufferevent_openssl_get_ssl(upstream->bev.get()) != nullptr) {
    // The client's bytes are TLS records: relay the decrypted bytes through
    // the bufferevents (its rate limit, if any, stays with it).
    bufferTunnel_ = std::make_unique<BufferTunnel>(std::move(client_), std::move(upstream->bev),
                                                   options, [this](const Tunnel::Totals& totals) {
                                                     exchange_.tunnelClosed(totals);
                                                     close();
                                                   });
    bufferTunnel_->start();
    return;
  }
  tunnel_ = std::make_unique<Tunnel>(std::move(client_), std::move(upstream->bev), options,
                                     [this](const Tunnel::Totals& totals) {
                                       exchange_.tunnelClosed(totals);
                                       close();
                                     });
  tunnel_->start();
}

void ClientConnection::closeAfterFlush() {
  if (!client_ || evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) {
    close();
    return;
  }
  enter(State::kFlushingThenClose);
  bufferevent_disable(client_.get(), EV_READ);
  bufferevent_setwatermark(client_.get(), EV_WRITE, 0, 0);
}

void ClientConnection::close() {
  if (state_ == State::kClosed) return;
  exchange_.abandon();  // logs an unfinished exchange once, stops its parts
  enter(State::kClosed);
  if (headTimer_) evtimer_del(headTimer_.get());
  if (resumeEvent_) event_del(resumeEvent_.get());
  stopDirectWrites();
  client_.reset();
  context_.limiter->release(clientIp_);
  context_.stats->connectionClosed();
  context_.retire(this);
}

void ClientConnection::recheckPolicy(const acl::Policy& policy, SystemTime now) {
  if (state_ != State::kTunnel && state_ != State::kExchange) return;
  auto denied = exchange_.recheck(policy, now);
  if (!denied) return;
  // The tunnel's done callback logs its byte counts and closes the connection.
  if (tunnel_) {
    tunnel_->stop(denied->reason);
  } else if (bufferTunnel_) {
    bufferTunnel_->stop(denied->reason);
  } else {
    close();  // a response cut short: it cannot be completed honestly
  }
}

}  // namespace portcullis::proxy
