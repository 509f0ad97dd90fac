// ClientSession, request side: the head, admission, DNS, connecting upstream
// and sending the request (with its body).

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

namespace portcullis::proxy {

using detail::isIdempotent;
using detail::protocolError;
using detail::requestTimeout;
using detail::toTimeval;

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
  t.config = context_.config();
  if (t.config != config_) {
    // A reload happened since the last request: this connection now runs
    // under the new snapshot, limits included.
    config_ = t.config;
    applyLimits();
  }
  t.started = context_.clock->steadyNow();
  t.record.start = context_.clock->systemNow();
  t.record.client = clientText_;
  t.record.method = t.request.method;
  t.record.url = t.request.target;
  t.record.bytesIn = headBytes;
  t.keepAlive = clientWantsKeepAlive(t.request) && !draining_;
  if (auto ua = t.request.headers.get("User-Agent")) t.record.userAgent = std::string(*ua);
  if (auto ref = t.request.headers.get("Referer")) t.record.referer = std::string(*ref);

  auto host = http::checkHostField(t.request);
  if (!host.ok()) {
    reply(protocolError(400, host.error().message));
    return;
  }
  auto framing = http::requestFraming(t.request);
  if (!framing.ok()) {
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
    ErrorReply e = errorReply(
        Termination::kRateLimited,
        "This client sends requests faster than the proxy's limit allows; try again shortly.",
        "request rate limit");
    e.rule = limit_->name;
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
  if (!isConnect &&
      (t.request.target.empty() || t.request.target[0] == '/' || t.request.target == "*")) {
    reply(errorReply(
        Termination::kNotAProxyRequest,
        "Portcullis is a forward proxy: it relays requests of the form "
        "\"GET http://host/path\" and tunnels \"CONNECT host:443\". Configure it as the HTTP "
        "proxy in your browser or with curl -x instead of visiting it directly.",
        "origin-form request to a forward proxy"));
    return false;
  }
  if (t.request.methodKind == http::Method::kOther) {
    // Methods are case-sensitive tokens (RFC 9110 §9.1): "get" is not GET.
    // A forward proxy has no business relaying methods it does not know.
    reply(errorReply(Termination::kMethodNotSupported,
                     "The proxy could not accept this request: method not supported by this "
                     "proxy.",
                     "method not supported by this proxy"));
    return false;
  }
  auto target = isConnect ? http::parseAuthorityForm(t.request.target)
                          : http::parseAbsoluteForm(t.request.target);
  if (!target.ok()) {
    reply(protocolError(400, target.error().message));
    return false;
  }
  t.target = std::move(target.value());
  t.record.url = isConnect ? t.target.authority() : t.target.normalizedUri();
  // Admission (hard rules included: port 25 is refused here) before the
  // proxy answers anything itself.
  auto decision = t.config->policy->evaluate(requestFacts());
  if (!decision.allowed()) {
    denied(decision);
    return false;
  }
  // The rule that allowed the name; the address check after DNS may name
  // another, but a request that never gets there (DNS failure) is still
  // logged with the rule that let it through.
  t.record.rule = decision.rule;
  t.record.ruleWhere = decision.where.file.empty() ? "" : decision.where.toString();
  if (viaNamesUs(t.request.headers, t.config->server.viaPseudonym)) {
    reply(errorReply(Termination::kForwardingLoop,
                     "This request has already passed through this proxy: it would loop forever."));
    return false;
  }
  if (!isConnect && t.target.scheme != "http") {
    reply(errorReply(Termination::kHttpsWithoutConnect,
                     "This proxy relays https:// only through CONNECT tunnels.",
                     "absolute-form https request"));
    return false;
  }
  // Only an admitted request is answered by the proxy itself: a stranger
  // gets 403, not our Allow list.
  if (maxForwardsExhausted(t.request)) {
    answerMaxForwards();
    return false;
  }
  return true;
}

/// RFC 9110 §7.6.2: the last recipient answers TRACE/OPTIONS itself.
void ClientSession::answerMaxForwards() {
  auto& t = txn_;
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
  writeToClient(buildClientResponse(head, BodyEncoding::kContentLength, body.size(), !t.keepAlive,
                                    t.config->server.viaPseudonym));
  writeToClient(body);
  t.record.status = 200;
  finishTransaction();
}

void ClientSession::resolve() {
  enter(State::kResolving);
  // Client reads stay enabled: toggling them costs two epoll_ctl calls per
  // request. Pipelined bytes or an EOF arriving meanwhile switch reading
  // off then (onClientRead, onClientEvent).
  auto answer = context_.resolver->resolve(
      txn_.target.host, [this](const net::DnsAnswer& a) { onResolved(a); }, txn_.dnsTicket);
  if (answer) onResolved(*answer);
}

void ClientSession::onResolved(const net::DnsAnswer& answer) {
  auto& t = txn_;
  t.dnsTicket = 0;
  if (state_ != State::kResolving) return;
  if (answer.failure) {
    context_.stats->dnsFailure();
    const bool timeout = *answer.failure == net::DnsFailure::kTimeout;
    ErrorReply e = errorReply(
        timeout ? Termination::kDnsTimeout : Termination::kDnsError,
        "The proxy could not find the address of " + t.target.host + " (" + answer.detail + ").",
        answer.detail);
    t.record.error = "dns: " + answer.detail;
    if (serveStoredWithoutDns()) return;
    reply(std::move(e), !t.requestBodyDone || !t.keepAlive);
    return;
  }
  // Every address the name resolved to is checked (DNS rebinding, SSRF).
  auto decision = checkAddresses(answer.addresses);
  if (!decision.allowed()) {
    denied(decision);
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

acl::RequestFacts ClientSession::requestFacts() const {
  const auto& t = txn_;
  acl::RequestFacts facts;
  facts.client = clientIp_;
  facts.method = t.request.method;
  facts.isConnect = t.request.methodKind == http::Method::kConnect;
  facts.scheme = facts.isConnect ? std::string_view() : std::string_view(t.target.scheme);
  facts.host = t.target.host;
  facts.port = t.target.port;
  return facts;
}

acl::Decision ClientSession::checkAddresses(const std::vector<acl::IpAddress>& addresses) const {
  // Every hard rule (port 25, special ranges, the proxy's own bound
  // addresses) lives in the policy: the daemon and `explain` ask the same.
  auto facts = requestFacts();
  facts.addresses = addresses;
  return txn_.config->policy->evaluate(facts);
}

void ClientSession::connectUpstream() {
  auto& t = txn_;
  if (t.nextAddress >= t.addresses.size()) {
    ErrorReply e = errorReply(Termination::kConnectRefused,
                              "The proxy could not connect to " + t.target.authority() + ".");
    t.record.error = "connect failed";
    context_.stats->upstreamError();
    reply(std::move(e), !t.requestBodyDone || !t.keepAlive);
    return;
  }
  auto address = net::SocketAddress::from(t.addresses[t.nextAddress++], t.target.port);
  const bool isConnect = t.request.methodKind == http::Method::kConnect;
  // Tunnels never share connections; requests may reuse an idle one.
  t.upstream = isConnect ? nullptr : context_.pool->acquire(address);
  if (!t.upstream) {
    t.upstream = std::make_unique<UpstreamConnection>();
    t.upstream->address = address;
    t.upstream->key = address.toString();
    t.upstream->pool = context_.pool;
    t.upstream->bev.reset(bufferevent_socket_new(context_.base, -1, BEV_OPT_CLOSE_ON_FREE));
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
    enter(State::kConnecting);
    onUpstreamConnected();
    return;
  }
  enter(State::kConnecting);
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
  context_.stats->upstreamError();
  if (serveStaleOnError()) return;
  ErrorReply e = errorReply(
      timedOut ? Termination::kConnectTimeout : Termination::kConnectRefused,
      "The proxy could not connect to " + t.target.authority() +
          (timedOut ? ": the connection attempt timed out." : ": the connection was refused."));
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
  t.firstByteDeadline = context_.clock->steadyNow() + server.firstByteTimeout;
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
  t.requestSentAt = context_.clock->systemNow();
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
    enter(State::kAwaitingResponse);
    return;
  }
  enter(State::kSendingBody);
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
    const char* data =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(avail)));
    scratch_.clear();
    auto outcome = t.requestChunks.decode(std::string_view(data, avail), scratch_);
    if (outcome.status == http::ParseStatus::kInvalid) {
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
    if (state_ == State::kSendingBody) enter(State::kAwaitingResponse);
    timeval wt = toTimeval(t.config->server.bodyTimeout);
    bufferevent_set_timeouts(client_.get(), nullptr, &wt);
    bufferevent_disable(client_.get(), EV_READ);
    return;
  }
  if (evbuffer_get_length(out) >= t.config->server.bufferBytes) {
    bufferevent_disable(client_.get(), EV_READ);  // resumed by onUpstreamWrite
  }
}

}  // namespace portcullis::proxy
