#include "daemon/proxy/client_session.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "acl/policy_impl.h"
#include "cache/policy/validation.h"
#include "daemon/http/framing.h"
#include "daemon/http/head_parser.h"
#include "daemon/http/message_writer.h"
#include "daemon/net/large_read.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"
#include "daemon/proxy/worker.h"

namespace portcullis::proxy {

using detail::isIdempotent;
using detail::kSmtpPort;
using detail::protocolError;
using detail::requestTimeout;
using detail::toTimeval;


ClientSession::ClientSession(Worker& worker, int fd, const net::SocketAddress& peer,
                             acl::IpAddress clientIp)
    : worker_(worker), peer_(peer), clientIp_(clientIp), clientText_(peer.toString()) {
  client_.reset(bufferevent_socket_new(worker.base(), fd, BEV_OPT_CLOSE_ON_FREE));
  headTimer_.reset(evtimer_new(worker.base(), &ClientSession::onHeadTimer, this));
  resumeEvent_.reset(event_new(worker.base(), -1, 0, &ClientSession::onResume, this));
  cacheWake_.reset(event_new(worker.base(), -1, 0, &ClientSession::onCacheWake, this));
  clientFlush_.reset(event_new(worker.base(), -1, 0, &ClientSession::onClientFlush, this));
  progressTimer_.reset(evtimer_new(worker.base(), &ClientSession::onProgressTimer, this));
  config_ = worker.server().config();
}

ClientSession::~ClientSession() {
  if (state_ != State::kClosed) close();
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
  const auto& sources = config_->policy->impl().sources;
  for (const auto& limit : config_->limits) {
    if (limit.sourceIndex < sources.size() && sources[limit.sourceIndex].cidrs.contains(clientIp_)) {
      limit_ = &limit;
      break;
    }
  }
  if (limit_ == nullptr || limit_->bandwidth == 0) return;
  // A delay pool per connection: libevent paces what we write to the client.
  const auto rate = static_cast<size_t>(limit_->bandwidth);
  timeval tick{0, 100000};  // refill ten times a second for smooth pacing
  bandwidth_.reset(ev_token_bucket_cfg_new(EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX,
                                           std::max<size_t>(1, rate / 10), rate, &tick));
  if (bandwidth_) bufferevent_set_rate_limit(client_.get(), bandwidth_.get());
}

bool ClientSession::overRequestRate() {
  if (limit_ == nullptr || limit_->requestsPerSecond <= 0) return false;
  return !worker_.server().rateLimiter().take(clientIp_, limit_->requestsPerSecond, limit_->burst,
                                              std::chrono::steady_clock::now());
}

void ClientSession::noteRefusal() {
  const auto& config = config_ ? *config_ : *worker_.server().config();
  if (config.abuse.refusalsToBlock == 0) return;
  // Clients of an allowed network are not blocked unless the admin says so.
  if (!config.abuse.blockAllowedSources && config.policy->evaluateSource(clientIp_).allowed()) return;
  AbuseGuard::Options o;
  o.refusalsToBlock = config.abuse.refusalsToBlock;
  o.window = config.abuse.refusalWindow;
  o.blockFor = config.abuse.blockTime;
  if (worker_.server().abuseGuard().noteRefusal(clientIp_, o, std::chrono::steady_clock::now())) {
    const auto& hooks = worker_.server().hooks();
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
      case State::kReadingHead: self->readHead(); break;
      case State::kSendingBody:
        net::readMore(self->client_.get(), self->txn_.config->server.bufferBytes);
        self->pumpRequestBody();
        break;
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
    continueWaiting();
    return;
  }
  if (state_ == State::kFlushingThenClose) {
    if (evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) close();
    return;
  }
  // The client drained below the watermark: resume reading the origin.
  if (state_ == State::kRelayingResponse && txn_.upstream) {
    bufferevent_enable(txn_.upstream->bev.get(), EV_READ);
  }
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
    if (self->state_ == State::kSendingBody && (what & BEV_EVENT_TIMEOUT) &&
        (what & BEV_EVENT_READING)) {
      self->releaseUpstream(false);
      self->reply(requestTimeout("The request body stopped arriving.", "client request body timeout"));
      return;
    }
    if (self->txn_.active) {
      self->txn_.record.error = (what & BEV_EVENT_TIMEOUT) ? "client timeout"
                                                           : "client closed the connection";
    }
    self->close();
  });
}

void ClientSession::onUpstreamRead(bufferevent*, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    self->txn_.responseBytesSeen = true;
    if (self->state_ == State::kAwaitingResponse || self->state_ == State::kSendingBody) {
      self->readResponseHead();
    } else if (self->state_ == State::kRelayingResponse) {
      net::readMore(self->txn_.upstream->bev.get(), self->txn_.config->server.bufferBytes);
      self->pumpResponseBody();
    }
  });
}

void ClientSession::onUpstreamWrite(bufferevent*, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    // Upstream drained: take more of the request body from the client.
    if (self->state_ == State::kSendingBody) bufferevent_enable(self->client_.get(), EV_READ);
  });
}

void ClientSession::onUpstreamEvent(bufferevent*, short what, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    if (what & BEV_EVENT_CONNECTED) {
      self->onUpstreamConnected();
    } else if (self->state_ == State::kConnecting) {
      self->onUpstreamFailed(what);
    } else {
      self->onUpstreamClosed(what);
    }
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

// ---------------------------------------------------------------- request side

void ClientSession::armHeadTimer(std::chrono::milliseconds timeout) {
  timeval tv = toTimeval(timeout);
  evtimer_add(headTimer_.get(), &tv);
}

void ClientSession::readHead() {
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
  txn_ = Transaction{};
  auto outcome = http::parseRequestHead(std::string_view(data, view), limits, txn_.request);
  if (outcome.status == http::ParseStatus::kNeedMore) {
    if (view >= server.maxHeaderBytes + server.maxRequestLine) {
      reply(protocolError(431, "the request head is larger than the limit"));
    }
    return;
  }
  if (outcome.status == http::ParseStatus::kInvalid) {
    txn_.record.method = "-";
    txn_.record.bytesIn = len;  // what we read before refusing it
    reply(protocolError(outcome.errorStatus == 0 ? 400 : outcome.errorStatus, outcome.reason));
    return;
  }
  evbuffer_drain(in, outcome.consumed);
  beginTransaction(outcome.consumed);
}

void ClientSession::beginTransaction(size_t headBytes) {
  evtimer_del(headTimer_.get());
  headStarted_ = false;
  auto& t = txn_;
  t.active = true;
  t.config = worker_.server().config();
  config_ = t.config;
  t.started = std::chrono::steady_clock::now();
  t.record.start = std::chrono::system_clock::now();
  t.record.client = clientText_;
  t.record.method = t.request.method;
  t.record.url = t.request.target;
  t.record.bytesIn = headBytes;
  t.keepAlive = clientWantsKeepAlive(t.request) && !draining_;
  if (auto ua = t.request.headers.get("User-Agent")) t.record.userAgent = std::string(*ua);
  if (auto ref = t.request.headers.get("Referer")) t.record.referer = std::string(*ref);

  auto host = http::checkHostField(t.request);
  if (!host.ok()) {
    t.keepAlive = false;
    reply(protocolError(400, host.error().message));
    return;
  }
  auto framing = http::requestFraming(t.request);
  if (!framing.ok()) {
    t.keepAlive = false;
    reply(protocolError(framing.error().status == 0 ? 400 : framing.error().status,
                        framing.error().message));
    return;
  }
  t.requestFraming = *framing;
  t.requestBodyDone = t.requestFraming.kind == http::BodyKind::kNone;
  t.requestBodyLeft = t.requestFraming.length;
  if (t.requestFraming.kind == http::BodyKind::kContentLength && t.requestBodyLeft == 0) {
    t.requestBodyDone = true;
  }
  if (overRequestRate()) {
    ErrorReply e;
    e.status = 429;
    e.proxyStatusError = "http_request_denied";
    e.title = "Too many requests";
    e.message = "This client sends requests faster than the proxy's limit allows; try again shortly.";
    e.rule = limit_->name;
    e.detail = "request rate limit";
    t.record.rule = limit_->name;
    reply(std::move(e), false);
    return;
  }
  if (!checkTarget()) return;
  resolve();
}

/// Target form, hard rules and the name-based ACL; false when answered.
bool ClientSession::checkTarget() {
  auto& t = txn_;
  const bool isConnect = t.request.methodKind == http::Method::kConnect;
  if (!isConnect && (t.request.target.empty() || t.request.target[0] == '/' ||
                     t.request.target == "*")) {
    ErrorReply e;
    e.status = 400;
    e.proxyStatusError = "http_request_error";
    e.title = "This is a proxy server";
    e.message =
        "Portcullis is a forward proxy: it relays requests of the form "
        "\"GET http://host/path\" and tunnels \"CONNECT host:443\". Configure it as the HTTP "
        "proxy in your browser or with curl -x instead of visiting it directly.";
    e.detail = "origin-form request to a forward proxy";
    t.keepAlive = false;
    reply(std::move(e));
    return false;
  }
  if (t.request.methodKind == http::Method::kOther) {
    // Methods are case-sensitive tokens (RFC 9110 §9.1): "get" is not GET.
    // A forward proxy has no business relaying methods it does not know.
    ErrorReply e = protocolError(501, "method not supported by this proxy");
    e.title = "Method not supported";
    t.keepAlive = false;
    reply(std::move(e));
    return false;
  }
  auto target = isConnect ? http::parseAuthorityForm(t.request.target)
                          : http::parseAbsoluteForm(t.request.target);
  if (!target.ok()) {
    t.keepAlive = false;
    reply(protocolError(400, target.error().message));
    return false;
  }
  t.target = std::move(target.value());
  t.record.url = isConnect ? t.target.authority() : t.target.normalizedUri();
  // Hard rule, before any lookup or connect: SMTP is never reachable.
  if (t.target.port == kSmtpPort) {
    denied("hard:port-25", "", "Port 25 (SMTP) is never reachable through this proxy.");
    return false;
  }
  if (!isConnect && t.target.scheme != "http") {
    ErrorReply e;
    e.status = 501;
    e.proxyStatusError = "http_request_error";
    e.title = "Use CONNECT for https";
    e.message = "This proxy relays https:// only through CONNECT tunnels.";
    e.detail = "absolute-form https request";
    reply(std::move(e));
    return false;
  }
  if (viaNamesUs(t.request.headers, t.config->server.viaPseudonym)) {
    ErrorReply e;
    e.status = 508;
    e.proxyStatusError = "proxy_loop_detected";
    e.title = "Forwarding loop";
    e.message = "This request has already passed through this proxy: it would loop forever.";
    t.keepAlive = false;
    reply(std::move(e));
    return false;
  }
  if (maxForwardsExhausted(t.request)) {
    // RFC 9110 §7.6.2: the last recipient answers TRACE/OPTIONS itself.
    http::ResponseHead head;
    head.status = 200;
    head.reason = "OK";
    std::string body;
    if (t.request.methodKind == http::Method::kTrace) {
      head.headers.add("Content-Type", "message/http");
      http::writeRequestHead(body, t.request.method, t.request.target, t.request.headers);
    } else {
      head.headers.add("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, CONNECT");
    }
    writeToClient(buildClientResponse(head, BodyEncoding::kContentLength, body.size(),
                                      !t.keepAlive, t.config->server.viaPseudonym));
    writeToClient(body);
    t.record.status = 200;
    finishTransaction();
    return false;
  }
  acl::RequestFacts facts;
  facts.client = clientIp_;
  facts.method = t.request.method;
  facts.scheme = isConnect ? std::string_view() : std::string_view(t.target.scheme);
  facts.host = t.target.host;
  facts.port = t.target.port;
  facts.isConnect = isConnect;
  auto decision = t.config->policy->evaluate(facts);
  if (!decision.allowed()) {
    denied(decision.rule, decision.where.file.empty() ? "" : decision.where.toString(),
           decision.reason);
    return false;
  }
  return true;
}

void ClientSession::resolve() {
  state_ = State::kResolving;
  // Client reads stay enabled: toggling them costs two epoll_ctl calls per
  // request. Pipelined bytes or an EOF arriving meanwhile switch reading
  // off then (onClientRead, onClientEvent).
  auto answer = worker_.resolver().resolve(
      txn_.target.host, [this](const net::DnsAnswer& a) { onResolved(a); }, txn_.dnsTicket);
  if (answer) onResolved(*answer);
}

void ClientSession::onResolved(const net::DnsAnswer& answer) {
  auto& t = txn_;
  t.dnsTicket = 0;
  if (state_ != State::kResolving) return;
  if (answer.failure) {
    worker_.server().stats().dnsFailure();
    ErrorReply e;
    const bool timeout = *answer.failure == net::DnsFailure::kTimeout;
    e.status = timeout ? 504 : 502;
    e.proxyStatusError = timeout ? "dns_timeout" : "dns_error";
    e.title = timeout ? "DNS lookup timed out" : "Unknown host";
    e.message = "The proxy could not find the address of " + t.target.host + " (" +
                answer.detail + ").";
    e.detail = answer.detail;
    t.record.error = "dns: " + answer.detail;
    if (serveStoredWithoutDns()) return;
    reply(std::move(e), !t.requestBodyDone || !t.keepAlive);
    return;
  }
  // Every address the name resolved to is checked (DNS rebinding, SSRF).
  auto decision = checkAddresses(answer.addresses);
  if (!decision.allowed()) {
    denied(decision.rule, decision.where.file.empty() ? "" : decision.where.toString(),
           decision.reason);
    return;
  }
  t.record.rule = decision.rule;
  t.record.ruleWhere = decision.where.file.empty() ? "" : decision.where.toString();
  t.addresses = answer.addresses;
  t.nextAddress = 0;
  // The cache answers only after the rules allowed every address: a client
  // the policy refuses must not read what another client fetched.
  if (!t.cacheChecked) {
    t.cacheChecked = true;
    if (tryCache()) return;
  }
  connectUpstream();
}

acl::Decision ClientSession::checkAddresses(const std::vector<acl::IpAddress>& addresses) const {
  const auto& t = txn_;
  acl::RequestFacts facts;
  facts.client = clientIp_;
  facts.method = t.request.method;
  const bool isConnect = t.request.methodKind == http::Method::kConnect;
  facts.scheme = isConnect ? std::string_view() : std::string_view(t.target.scheme);
  facts.host = t.target.host;
  facts.port = t.target.port;
  facts.isConnect = isConnect;
  facts.addresses = addresses;
  auto decision = t.config->policy->evaluate(facts);
  if (!decision.allowed()) return decision;
  // Our own listening sockets are never a destination (a loop), whatever
  // port the kernel gave them.
  for (const auto& ip : addresses) {
    for (const auto& self : worker_.server().boundAddresses()) {
      if (self.port() == t.target.port && self.ip() && *self.ip() == ip) {
        acl::Decision refused;
        refused.rule = "hard:self";
        refused.reason = "The proxy's own address is never a destination.";
        return refused;
      }
    }
  }
  return decision;
}

void ClientSession::connectUpstream() {
  auto& t = txn_;
  if (t.nextAddress >= t.addresses.size()) {
    ErrorReply e;
    e.status = 502;
    e.proxyStatusError = "connection_refused";
    e.title = "Cannot reach the server";
    e.message = "The proxy could not connect to " + t.target.authority() + ".";
    t.record.error = "connect failed";
    worker_.server().stats().upstreamError();
    reply(std::move(e), !t.requestBodyDone || !t.keepAlive);
    return;
  }
  auto address = net::SocketAddress::from(t.addresses[t.nextAddress++], t.target.port);
  const bool isConnect = t.request.methodKind == http::Method::kConnect;
  // Tunnels never share connections; requests may reuse an idle one.
  t.upstream = isConnect ? nullptr : worker_.pool().acquire(address);
  if (!t.upstream) {
    t.upstream = std::make_unique<UpstreamConnection>();
    t.upstream->address = address;
    t.upstream->key = address.toString();
    t.upstream->pool = &worker_.pool();
    t.upstream->bev.reset(bufferevent_socket_new(worker_.base(), -1, BEV_OPT_CLOSE_ON_FREE));
  }
  t.record.upstream = t.upstream->key;
  auto* bev = t.upstream->bev.get();
  bufferevent_setcb(bev, &ClientSession::onUpstreamRead, &ClientSession::onUpstreamWrite,
                    &ClientSession::onUpstreamEvent, this);
  const auto& server = t.config->server;
  bufferevent_setwatermark(bev, EV_READ, 0, server.bufferBytes);
  net::setLargeIo(bev, server.bufferBytes);
  bufferevent_setwatermark(bev, EV_WRITE, server.bufferBytes / 2, 0);
  if (t.upstream->reused) {
    state_ = State::kConnecting;
    onUpstreamConnected();
    return;
  }
  state_ = State::kConnecting;
  timeval ct = toTimeval(server.connectTimeout);
  bufferevent_set_timeouts(bev, nullptr, &ct);
  if (bufferevent_socket_connect(bev, address.get(), static_cast<int>(address.length)) != 0) {
    onUpstreamFailed(BEV_EVENT_ERROR);
  }
}

void ClientSession::onUpstreamFailed(short what) {
  auto& t = txn_;
  const bool timedOut = (what & BEV_EVENT_TIMEOUT) != 0;
  t.upstream.reset();
  if (t.nextAddress < t.addresses.size()) {
    connectUpstream();
    return;
  }
  worker_.server().stats().upstreamError();
  if (serveStaleOnError()) return;
  ErrorReply e;
  e.status = timedOut ? 504 : 502;
  e.proxyStatusError = timedOut ? "connection_timeout" : "connection_refused";
  e.title = timedOut ? "The server did not answer" : "Cannot reach the server";
  e.message = "The proxy could not connect to " + t.target.authority() +
              (timedOut ? ": the connection attempt timed out." : ": the connection was refused.");
  t.record.error = timedOut ? "upstream connect timeout" : "upstream connect refused";
  reply(std::move(e), !t.requestBodyDone || !t.keepAlive);
}

void ClientSession::onUpstreamConnected() {
  auto& t = txn_;
  const auto& server = t.config->server;
  if (!t.upstream->reused) {
    // Heads and small bodies must not wait for Nagle + delayed ACK (40 ms).
    int one = 1;
    ::setsockopt(bufferevent_getfd(t.upstream->bev.get()), IPPROTO_TCP, TCP_NODELAY, &one,
                 sizeof one);
  }
  if (t.request.methodKind == http::Method::kConnect) {
    startTunnel();
    return;
  }
  timeval rt = toTimeval(server.firstByteTimeout);
  timeval wt = toTimeval(server.bodyTimeout);
  bufferevent_set_timeouts(t.upstream->bev.get(), &rt, &wt);
  // EV_WRITE is armed by sendRequestHead only when something must wait for
  // the socket (enabling it arms the event even with nothing to write).
  bufferevent_enable(t.upstream->bev.get(), EV_READ);
  sendRequestHead();
}

void ClientSession::sendRequestHead() {
  auto& t = txn_;
  t.requestSentAt = std::chrono::system_clock::now();
  BodyEncoding enc = BodyEncoding::kNone;
  if (t.requestFraming.kind == http::BodyKind::kContentLength) enc = BodyEncoding::kContentLength;
  if (t.requestFraming.kind == http::BodyKind::kChunked) enc = BodyEncoding::kChunked;
  std::string head;
  if (t.fetchWholeForRange) {
    // The whole object goes into the cache; the client's range is cut from it.
    http::RequestHead whole = t.request;
    whole.headers.remove("Range");
    whole.headers.remove("If-Range");
    head = buildUpstreamRequest(whole, t.target, enc, t.requestFraming.length,
                                t.config->server.viaPseudonym);
  } else if (t.stored) {
    // Our own validators go upstream; the client's conditionals stay ours to answer.
    http::RequestHead conditional = t.request;
    cache::policy::addRevalidationHeaders(conditional.headers, t.stored->response);
    head = buildUpstreamRequest(conditional, t.target, enc, t.requestFraming.length,
                                t.config->server.viaPseudonym);
  } else {
    head = buildUpstreamRequest(t.request, t.target, enc, t.requestFraming.length,
                                t.config->server.viaPseudonym);
  }
  // The connection is established here (fresh or pooled): send the head at
  // once when nothing is queued before it, so a small request costs one
  // send and no EV_WRITE round trip. What the socket does not take, or an
  // error, goes through the bufferevent, which reports errors as usual.
  bufferevent* up = t.upstream->bev.get();
  size_t sent = 0;
  if (evbuffer_get_length(bufferevent_get_output(up)) == 0) {
    ssize_t n = ::send(bufferevent_getfd(up), head.data(), head.size(), MSG_NOSIGNAL);
    if (n > 0) sent = static_cast<size_t>(n);
  }
  if (sent < head.size() || !t.requestBodyDone) {
    bufferevent_enable(up, EV_WRITE);
    if (sent < head.size()) bufferevent_write(up, head.data() + sent, head.size() - sent);
  } else {
    bufferevent_disable(up, EV_WRITE);  // nothing to send: no write event
  }
  if (t.requestBodyDone) {
    state_ = State::kAwaitingResponse;
    return;
  }
  state_ = State::kSendingBody;
  // A client that stalls mid-body is cut after body_timeout, not blamed on the origin.
  timeval rt = toTimeval(t.config->server.bodyTimeout);
  timeval wt = toTimeval(t.config->server.bodyTimeout);
  bufferevent_set_timeouts(client_.get(), &rt, &wt);
  bufferevent_enable(client_.get(), EV_READ);
  pumpRequestBody();
}

void ClientSession::pumpRequestBody() {
  auto& t = txn_;
  evbuffer* in = bufferevent_get_input(client_.get());
  evbuffer* out = bufferevent_get_output(t.upstream->bev.get());
  size_t avail = evbuffer_get_length(in);
  if (t.requestFraming.kind == http::BodyKind::kContentLength) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(avail, t.requestBodyLeft));
    if (n > 0) evbuffer_remove_buffer(in, out, n);
    t.requestBodyLeft -= n;
    t.record.bytesIn += n;
    t.requestBodyDone = t.requestBodyLeft == 0;
  } else if (avail > 0) {
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(avail)));
    scratch_.clear();
    auto outcome = t.requestChunks.decode(std::string_view(data, avail), scratch_);
    if (outcome.status == http::ParseStatus::kInvalid) {
      t.keepAlive = false;
      releaseUpstream(false);
      reply(protocolError(400, outcome.reason));
      return;
    }
    size_t used = outcome.status == http::ParseStatus::kDone ? outcome.consumed : avail;
    evbuffer_drain(in, used);
    t.record.bytesIn += used;
    std::string chunk;
    if (!scratch_.empty()) http::appendChunk(chunk, scratch_);
    if (outcome.status == http::ParseStatus::kDone) {
      http::appendLastChunk(chunk);
      t.requestBodyDone = true;
    }
    if (!chunk.empty()) evbuffer_add(out, chunk.data(), chunk.size());
  }
  if (t.requestBodyDone) {
    if (state_ == State::kSendingBody) state_ = State::kAwaitingResponse;
    timeval wt = toTimeval(t.config->server.bodyTimeout);
    bufferevent_set_timeouts(client_.get(), nullptr, &wt);
    bufferevent_disable(client_.get(), EV_READ);
    return;
  }
  if (evbuffer_get_length(out) >= t.config->server.bufferBytes) {
    bufferevent_disable(client_.get(), EV_READ);  // resumed by onUpstreamWrite
  }
}

// ---------------------------------------------------------------- endings

void ClientSession::writeToClient(const std::string& bytes) {
  if (!client_ || bytes.empty()) return;
  bufferevent_write(client_.get(), bytes.data(), bytes.size());
  txn_.record.bytesOut += bytes.size();
}

void ClientSession::releaseUpstream(bool reusable) {
  auto& t = txn_;
  if (!t.upstream) return;
  if (reusable && !worker_.shuttingDown()) {
    worker_.pool().release(std::move(t.upstream));
  }
  t.upstream.reset();
}

void ClientSession::denied(const std::string& rule, const std::string& where,
                           [[maybe_unused]] const std::string& reason) {
  worker_.server().stats().aclDenied(rule);
  noteRefusal();
  txn_.record.decision = log::AccessDecision::kDeny;
  txn_.record.rule = rule;
  txn_.record.ruleWhere = where;
  ErrorReply e;
  e.status = 403;
  e.proxyStatusError = rule == "hard:special-address" || rule == "hard:self"
                           ? "destination_ip_prohibited"
                           : "http_request_denied";
  e.title = "Access denied";
  // The ACL's reason names rules' file:line (even a builtin's, e.g. the allow
  // rule hard:special-address overrode): for `explain`, not for a pupil.
  e.message = "The proxy's access rules do not allow this request.";
  e.rule = rule;
  reply(std::move(e), true);
}

void ClientSession::reply(ErrorReply error, bool closeAfter) {
  auto& t = txn_;
  if (!t.active) {
    t.active = true;
    t.started = std::chrono::steady_clock::now();
    t.record.start = std::chrono::system_clock::now();
    t.record.client = clientText_;
  }
  if (closeAfter) t.keepAlive = false;
  t.record.status = error.status;
  if (t.record.error.empty() && !error.detail.empty()) t.record.error = error.detail;
  bool headOnly = t.request.methodKind == http::Method::kHead;
  std::string bytes = renderErrorResponse(error, t.config.get(), !t.keepAlive, headOnly);
  writeToClient(bytes);
  finishTransaction();
}

void ClientSession::finishTransaction() {
  auto& t = txn_;
  if (t.writer) finishCacheWrite(false);
  leaveFetch(InFlightFetch::Phase::kUncacheable);
  logTransaction();
  ++requestsServed_;
  if (t.dnsTicket != 0) worker_.resolver().cancel(t.dnsTicket);
  t.upstream.reset();
  const bool keepAlive = t.keepAlive && !draining_;
  if (!keepAlive) {
    closeAfterFlush();
    return;
  }
  txn_ = Transaction{};
  state_ = State::kReadingHead;
  headStarted_ = false;
  armHeadTimer(config_->server.clientIdleTimeout);
  bufferevent_enable(client_.get(), EV_READ);
  // A pipelined request may already be buffered: parse it on the next loop
  // turn rather than recursing here.
  if (evbuffer_get_length(bufferevent_get_input(client_.get())) > 0) {
    event_active(resumeEvent_.get(), 0, 0);
  }
}

void ClientSession::logTransaction() {
  auto& t = txn_;
  if (!t.active) return;
  t.active = false;
  auto elapsed = std::chrono::steady_clock::now() - t.started;
  t.record.durationMs = std::chrono::duration<double, std::milli>(elapsed).count();
  worker_.server().stats().recordRequest(t.record);
  const auto& hooks = worker_.server().hooks();
  if (hooks.access) hooks.access(t.record);
}

void ClientSession::closeAfterFlush() {
  if (!client_ || evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) {
    close();
    return;
  }
  state_ = State::kFlushingThenClose;
  bufferevent_disable(client_.get(), EV_READ);
  bufferevent_setwatermark(client_.get(), EV_WRITE, 0, 0);
}

void ClientSession::close() {
  if (state_ == State::kClosed) return;
  if (txn_.active) logTransaction();
  state_ = State::kClosed;
  if (txn_.writer) finishCacheWrite(false);
  leaveFetch(InFlightFetch::Phase::kFailed);
  if (txn_.dnsTicket != 0) worker_.resolver().cancel(txn_.dnsTicket);
  txn_.upstream.reset();
  if (headTimer_) evtimer_del(headTimer_.get());
  if (progressTimer_) evtimer_del(progressTimer_.get());
  if (resumeEvent_) event_del(resumeEvent_.get());
  stopDirectWrites();
  client_.reset();
  worker_.server().limiter().release(clientIp_);
  worker_.server().stats().connectionClosed();
  worker_.retire(this);
}

}  // namespace portcullis::proxy
