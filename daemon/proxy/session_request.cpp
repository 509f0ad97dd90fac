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
  cache_.begin(t.config, t.request, t.target, t.addresses);
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
  t.body.framing = *framing;
  t.body.done = t.body.framing.kind == http::BodyKind::kNone;
  t.body.left = t.body.framing.length;
  if (t.body.framing.kind == http::BodyKind::kContentLength && t.body.left == 0) {
    t.body.done = true;
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
    if (cache_.serveWithoutDns()) return;
    reply(std::move(e), !t.body.done || !t.keepAlive);
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
  // The cache answers only after the rules allowed every address: a client
  // the policy refuses must not read what another client fetched.
  if (!t.cacheChecked) {
    t.cacheChecked = true;
    if (cache_.lookup()) return;
  }
  startUpstream();
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

void ClientSession::startUpstream() {
  auto& t = txn_;
  enter(State::kFetching);
  upstream_.start(t.config, t.request, t.target, t.body, t.addresses);
}

}  // namespace portcullis::proxy
