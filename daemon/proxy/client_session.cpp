#include "daemon/proxy/client_session.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "acl/policy_impl.h"
#include "cache/policy/validation.h"
#include "daemon/base/assert.h"
#include "daemon/http/framing.h"
#include "daemon/http/head_parser.h"
#include "daemon/http/message_writer.h"
#include "daemon/net/large_read.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::isIdempotent;
using detail::protocolError;
using detail::requestTimeout;
using detail::toTimeval;

ClientSession::ClientSession(ProxyContext& context, int fd, const net::SocketAddress& peer,
                             acl::IpAddress clientIp)
    : context_(context), peer_(peer), clientIp_(clientIp), clientText_(peer.toString()) {
  client_.reset(bufferevent_socket_new(context.base, fd, BEV_OPT_CLOSE_ON_FREE));
  headTimer_.reset(evtimer_new(context.base, &ClientSession::onHeadTimer, this));
  resumeEvent_.reset(event_new(context.base, -1, 0, &ClientSession::onResume, this));
  clientFlush_.reset(event_new(context.base, -1, 0, &ClientSession::onClientFlush, this));
  config_ = context.config();
}

ClientSession::~ClientSession() {
  if (state_ != State::kClosed) close();
}

bool ClientSession::transitionAllowed(State from, State to) {
  using S = State;
  if (from == S::kClosed) return false;
  switch (to) {
    case S::kClosed:
    case S::kFlushingThenClose:
      return true;         // any state may end the connection
    case S::kReadingHead:  // every exchange ends here when the connection is kept
      return from != S::kTunnel && from != S::kFlushingThenClose;
    case S::kResolving:
      return from == S::kReadingHead || from == S::kWaitingForFetch;
    case S::kWaitingForFetch:
      return from == S::kResolving;
    case S::kFetching:
      return from == S::kResolving;
    case S::kTunnel:
      return from == S::kFetching;
  }
  return false;
}

std::string_view ClientSession::stateName(State s) {
  switch (s) {
    case State::kReadingHead:
      return "ReadingHead";
    case State::kResolving:
      return "Resolving";
    case State::kFetching:
      return "Fetching";
    case State::kTunnel:
      return "Tunnel";
    case State::kWaitingForFetch:
      return "WaitingForFetch";
    case State::kFlushingThenClose:
      return "FlushingThenClose";
    case State::kClosed:
      return "Closed";
  }
  return "?";
}

void ClientSession::enter(State to) {
  PC_DEBUG_ASSERT(transitionAllowed(state_, to), "ClientSession state transition");
  const State from = state_;
  state_ = to;
  if (context_.observer != nullptr) {
    context_.observer->onPhase("session", stateName(from), stateName(to));
  }
}

void ClientSession::start() {
  if (!client_) {
    close();
    return;
  }
  const auto& server = config_->server;
  size_t highWater = std::max(server.bufferBytes, server.maxHeaderBytes + server.maxRequestLine);
  bufferevent_setcb(client_.get(), &ClientSession::onClientRead, &ClientSession::onClientWrite,
                    &ClientSession::onClientEvent, this);
  bufferevent_setwatermark(client_.get(), EV_READ, 0, highWater);
  net::setLargeIo(client_.get(), server.bufferBytes);
  bufferevent_setwatermark(client_.get(), EV_WRITE, server.bufferBytes / 2, 0);
  timeval wt = toTimeval(server.bodyTimeout);
  bufferevent_set_timeouts(client_.get(), nullptr, &wt);
  // EV_WRITE (on by default in a new bufferevent) only when a write would block.
  bufferevent_disable(client_.get(), EV_WRITE);
  bufferevent_enable(client_.get(), EV_READ);
  outputWatch_ = evbuffer_add_cb(bufferevent_get_output(client_.get()),
                                 &ClientSession::onClientOutputAdded, this);
  applyLimits();
  armHeadTimer(server.headerTimeout);
}

void ClientSession::applyLimits() {
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

bool ClientSession::overRequestRate() {
  if (!limit_ || limit_->requestsPerSecond <= 0) return false;
  return !context_.rateLimiter->take(clientIp_, limit_->requestsPerSecond, limit_->burst,
                                     context_.clock->steadyNow());
}

void ClientSession::noteRefusal() {
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

void ClientSession::drain() {
  draining_ = true;
  if (state_ == State::kReadingHead && !headStarted_) close();
}

// ---------------------------------------------------------------- callbacks

void ClientSession::onClientRead(bufferevent*, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    switch (self->state_) {
      case State::kReadingHead:
        self->readHead();
        break;
      case State::kFetching:
        if (self->upstream_.phase() == UpstreamRequest::Phase::kSendingBody) {
          self->upstream_.onClientReadable();
          break;
        }
        [[fallthrough]];
      default:
        // Pipelined bytes wait in the buffer until this exchange is over.
        bufferevent_disable(self->client_.get(), EV_READ);
        break;
    }
  });
}

void ClientSession::onClientWrite(bufferevent* bev, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    // Back to direct writes once libevent has written everything.
    if (!self->bandwidth_ && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
      bufferevent_disable(bev, EV_WRITE);
    }
    self->onClientDrained();
  });
}

void ClientSession::onClientDrained() {
  if (state_ == State::kWaitingForFetch) {
    waiter_.proceed();
    return;
  }
  if (state_ == State::kFlushingThenClose) {
    if (evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) close();
    return;
  }
  // The client drained below the watermark: resume reading the origin.
  if (state_ == State::kFetching) upstream_.resumeReading();
}

void ClientSession::onClientOutputAdded(evbuffer*, const evbuffer_cb_info* info,
                                        void* arg) noexcept {
  auto* self = static_cast<ClientSession*>(arg);
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

void ClientSession::onClientFlush(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
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

void ClientSession::stopDirectWrites() {
  if (outputWatch_ != nullptr && client_) {
    evbuffer_remove_cb_entry(bufferevent_get_output(client_.get()), outputWatch_);
  }
  outputWatch_ = nullptr;
  if (clientFlush_) event_del(clientFlush_.get());
  flushScheduled_ = false;
}

void ClientSession::onClientEvent(bufferevent*, short what, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    if (self->state_ == State::kReadingHead && (what & BEV_EVENT_EOF) &&
        evbuffer_get_length(bufferevent_get_input(self->client_.get())) > 0) {
      self->readHead();  // a last request sent just before a half-close
      if (self->state_ == State::kReadingHead) self->close();
      return;
    }
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && self->busyWithExchange()) {
      // A half-close after the request: answer it first; the EOF is seen
      // again when reading resumes after the response.
      bufferevent_disable(self->client_.get(), EV_READ);
      return;
    }
    if (self->state_ == State::kFetching &&
        self->upstream_.phase() == UpstreamRequest::Phase::kSendingBody &&
        (what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING)) {
      self->upstream_.release(false);
      self->reply(
          requestTimeout("The request body stopped arriving.", "client request body timeout"));
      return;
    }
    if (self->txn_.active) {
      const bool timedOut = (what & BEV_EVENT_TIMEOUT) != 0;
      self->txn_.record.error = timedOut ? "client timeout" : "client closed the connection";
      self->txn_.record.termination =
          describe(timedOut ? Termination::kClientTimeout : Termination::kClientClosed).name;
    }
    self->close();
  });
}

void ClientSession::onHeadTimer(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    if (self->state_ != State::kReadingHead) return;
    if (!self->headStarted_) {
      self->close();  // idle keep-alive connection: just close
      return;
    }
    self->reply(requestTimeout("The request head did not arrive in time.", "header timeout"));
  });
}

void ClientSession::onResume(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    if (self->state_ == State::kReadingHead) self->readHead();
  });
}

// ---------------------------------------------------------------- endings

void ClientSession::writeToClient(std::string_view bytes) {
  if (!client_ || bytes.empty()) return;
  bufferevent_write(client_.get(), bytes.data(), bytes.size());
  txn_.record.bytesOut += bytes.size();
}

void ClientSession::denied(const acl::Decision& decision) {
  const std::string& rule = decision.rule;
  context_.stats->aclDenied(rule);
  noteRefusal();
  txn_.record.decision = log::AccessDecision::kDeny;
  txn_.record.rule = rule;
  txn_.record.ruleWhere = decision.where.file.empty() ? "" : decision.where.toString();
  const bool prohibitedAddress = rule == "hard:special-address" || rule == "hard:self";
  // The ACL's reason names rules' file:line (even a builtin's, e.g. the allow
  // rule hard:special-address overrode): for `explain`, not for a pupil.
  ErrorReply e = errorReply(
      prohibitedAddress ? Termination::kDestinationProhibited : Termination::kDeniedByRule,
      "The proxy's access rules do not allow this request.");
  e.rule = rule;
  reply(std::move(e), true);
}

void ClientSession::reply(ErrorReply error, bool closeAfter) {
  auto& t = txn_;
  if (!t.active) {
    t.active = true;
    t.started = context_.clock->steadyNow();
    t.record.start = context_.clock->systemNow();
    t.record.client = clientText_;
  }
  if (closeAfter) t.keepAlive = false;
  t.record.status = error.status;
  t.record.termination = describe(error.termination).name;
  if (t.record.error.empty() && !error.detail.empty()) t.record.error = error.detail;
  bool headOnly = t.request.methodKind == http::Method::kHead;
  std::string bytes = renderErrorResponse(error, t.config.get(), !t.keepAlive, headOnly);
  writeToClient(bytes);
  finishTransaction();
}

void ClientSession::finishTransaction() {
  auto& t = txn_;
  leaveCache(InFlightFetch::Phase::kUncacheable);
  logTransaction();
  ++requestsServed_;
  if (t.dnsTicket != 0) context_.resolver->cancel(t.dnsTicket);
  upstream_.release(false);
  // Answered before its body was read (a denial, a 429, a hit, a 504 for
  // only-if-cached...): the body must never be parsed as the next request
  // (CL.0 desync). Drop it if it is all here, else close (RFC 9112 §9.3).
  if (!t.body.done && !discardRequestBody()) t.keepAlive = false;
  const bool keepAlive = t.keepAlive && !draining_;
  if (!keepAlive) {
    closeAfterFlush();
    return;
  }
  txn_ = Transaction{};
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

bool ClientSession::discardRequestBody() {
  auto& t = txn_;
  if (t.body.framing.kind != http::BodyKind::kContentLength || !client_) return false;
  evbuffer* in = bufferevent_get_input(client_.get());
  if (evbuffer_get_length(in) < t.body.left) return false;
  evbuffer_drain(in, static_cast<size_t>(t.body.left));
  t.body.left = 0;
  t.body.done = true;
  return true;
}

void ClientSession::logTransaction() {
  auto& t = txn_;
  if (!t.active) return;
  t.active = false;
  if (t.record.termination.empty()) t.record.termination = describe(Termination::kCompleted).name;
  auto elapsed = context_.clock->steadyNow() - t.started;

  t.record.durationMs = std::chrono::duration<double, std::milli>(elapsed).count();
  context_.stats->recordRequest(t.record);
  const auto& hooks = *context_.hooks;
  if (hooks.access) hooks.access(t.record);
}

void ClientSession::closeAfterFlush() {
  if (!client_ || evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) {
    close();
    return;
  }
  enter(State::kFlushingThenClose);
  bufferevent_disable(client_.get(), EV_READ);
  bufferevent_setwatermark(client_.get(), EV_WRITE, 0, 0);
}

void ClientSession::close() {
  if (state_ == State::kClosed) return;
  if (txn_.active) logTransaction();
  enter(State::kClosed);
  leaveCache(InFlightFetch::Phase::kFailed);
  if (txn_.dnsTicket != 0) context_.resolver->cancel(txn_.dnsTicket);
  upstream_.release(false);
  if (headTimer_) evtimer_del(headTimer_.get());
  if (resumeEvent_) event_del(resumeEvent_.get());
  stopDirectWrites();
  client_.reset();
  context_.limiter->release(clientIp_);
  context_.stats->connectionClosed();
  context_.retire(this);
}

}  // namespace portcullis::proxy
