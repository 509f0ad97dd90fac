// Exchange: the phase table, admission (Policy::evaluate is the one
// admission function, before and after DNS) and resolving.

#include "daemon/proxy/exchange.h"

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/base/assert.h"
#include "daemon/http/framing.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/decision_record.h"
#include "daemon/proxy/forwarding.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::protocolError;

Exchange::Exchange(ProxyContext& context, Connection& connection)
    : context_(context), connection_(connection) {}

Exchange::~Exchange() = default;

std::string_view Exchange::phaseName(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "Idle";
    case Phase::kAdmission:
      return "Admission";
    case Phase::kResolving:
      return "Resolving";
    case Phase::kCache:
      return "Cache";
    case Phase::kWaiting:
      return "Waiting";
    case Phase::kSliced:
      return "Sliced";
    case Phase::kFetching:
      return "Fetching";
    case Phase::kTlsCheck:
      return "TlsCheck";
    case Phase::kTunnel:
      return "Tunnel";
    case Phase::kDone:
      return "Done";
  }
  return "?";
}

bool Exchange::transitionAllowed(Phase from, Phase to) {
  using P = Phase;
  switch (to) {
    case P::kIdle:
      return false;
    case P::kAdmission:
      return from == P::kIdle || from == P::kDone;
    case P::kResolving:  // or no parent connected and direct is allowed
      return from == P::kAdmission || from == P::kFetching;
    case P::kCache:
      return from == P::kResolving;
    case P::kWaiting:
      return from == P::kCache;
    case P::kSliced:  // a sliced object, or a range too big to fetch whole
      return from == P::kCache || from == P::kFetching;
    case P::kFetching:  // a miss, a waiter gone solo, no slicing, or the cache already checked
      return from == P::kCache || from == P::kWaiting || from == P::kSliced ||
             from == P::kResolving;
    case P::kTlsCheck:
      return from == P::kFetching;
    case P::kTunnel:
      return from == P::kFetching || from == P::kTlsCheck;
    case P::kDone:
      return from != P::kDone;
  }
  return false;
}

void Exchange::enter(Phase to) {
  PC_DEBUG_ASSERT(transitionAllowed(phase_, to), "Exchange phase transition");
  const Phase from = phase_;
  phase_ = to;
  if (context_.observer != nullptr) {
    context_.observer->onPhase("exchange", phaseName(from), phaseName(to));
  }
}

void Exchange::begin(std::shared_ptr<const config::Config> config, http::RequestHead head,
                     size_t headBytes) {
  config_ = std::move(config);
  request_ = std::move(head);
  target_ = http::Target{};
  body_ = RequestBody{};
  addresses_.clear();
  parents_.clear();
  addressesDecide_ = false;
  directFallback_ = false;
  safeSearch_.reset();
  dnsTicket_ = 0;
  verifyTicket_ = 0;
  user_.clear();
  groups_.clear();
  record_ = log::AccessRecord{};
  active_ = true;
  enter(Phase::kAdmission);
  cache_->begin(config_, request_, target_, addresses_);
  started_ = context_.clock->steadyNow();
  record_.start = context_.clock->systemNow();
  record_.client = connection_.clientText();
  record_.balancer = connection_.balancerText();
  if (connection_.transparent() != nullptr) record_.mode = "transparent";
  record_.method = request_.method;
  record_.url = request_.target;
  record_.bytesIn = headBytes;
  keepAlive_ = clientWantsKeepAlive(request_) && !connection_.draining();
  if (auto ua = request_.headers.get("User-Agent")) record_.userAgent = std::string(*ua);
  if (auto ref = request_.headers.get("Referer")) record_.referer = std::string(*ref);
  if (!checkRequest() || !identify()) return;
  admit();
}

void Exchange::admit() {
  if (!checkTarget()) return;
  routeParents();
  resolve();
}

void Exchange::refuseHead(ErrorReply error, size_t bytesIn) {
  config_.reset();  // the built-in page: no request, no snapshot yet
  request_ = http::RequestHead{};
  body_ = RequestBody{};
  record_ = log::AccessRecord{};
  keepAlive_ = true;
  active_ = false;
  if (bytesIn > 0) {
    record_.method = "-";
    record_.bytesIn = bytesIn;  // what we read before refusing it
  }
  reply(std::move(error));
}

/// Host, framing and the client's request rate; false when answered.
bool Exchange::checkRequest() {
  auto host = http::checkHostField(request_);
  if (!host.ok()) {
    reply(protocolError(400, host.error().message));
    return false;
  }
  auto framing = http::requestFraming(request_);
  if (!framing.ok()) {
    reply(protocolError(framing.error().status == 0 ? 400 : framing.error().status,
                        framing.error().message));
    return false;
  }
  body_.framing = *framing;
  body_.done = body_.framing.kind == http::BodyKind::kNone;
  body_.left = body_.framing.length;
  if (body_.framing.kind == http::BodyKind::kContentLength && body_.left == 0) body_.done = true;
  std::string limitName;
  if (!connection_.takeRequestToken(limitName)) {
    ErrorReply e = errorReply(
        Termination::kRateLimited,
        "This client sends requests faster than the proxy's limit allows; try again shortly.",
        "request rate limit");
    e.rule = limitName;
    record_.rule = limitName;
    reply(std::move(e), false);
    return false;
  }
  return true;
}

/// Target form, hard rules and the name-based ACL; false when answered.
bool Exchange::checkTarget() {
  const bool isConnect = request_.methodKind == http::Method::kConnect;
  const TransparentDestination* dst = connection_.transparent();
  if (!(dst != nullptr ? transparentTarget(*dst) : proxyTarget())) return false;
  record_.url = isConnect ? target_.authority() : target_.normalizedUri();
  // Admission (hard rules included: port 25 is refused here) before the
  // proxy answers anything itself.
  auto decision = config_->policy->evaluate(requestFacts());
  if (!decision.allowed()) {
    if (decision.loginWouldHelp && credentialsAllowedHere()) {
      // RFC 9110 §15.5.8: a rule for logged-in users would allow it.
      challenge("Log in to use the proxy for this site.", "login required by rule");
      return false;
    }
    denied(decision);
    return false;
  }
  return admitted(decision);
}

bool Exchange::proxyTarget() {
  const bool isConnect = request_.methodKind == http::Method::kConnect;
  if (!isConnect &&
      (request_.target.empty() || request_.target[0] == '/' || request_.target == "*")) {
    reply(errorReply(
        Termination::kNotAProxyRequest,
        "Portcullis is a forward proxy: it relays requests of the form "
        "\"GET http://host/path\" and tunnels \"CONNECT host:443\". Configure it as the HTTP "
        "proxy in your browser or with curl -x instead of visiting it directly.",
        "origin-form request to a forward proxy"));
    return false;
  }
  if (request_.methodKind == http::Method::kOther) {
    // Methods are case-sensitive tokens (RFC 9110 §9.1): "get" is not GET.
    // A forward proxy has no business relaying methods it does not know.
    reply(errorReply(Termination::kMethodNotSupported,
                     "The proxy could not accept this request: method not supported by this "
                     "proxy.",
                     "method not supported by this proxy"));
    return false;
  }
  auto target = isConnect ? http::parseAuthorityForm(request_.target)
                          : http::parseAbsoluteForm(request_.target);
  if (!target.ok()) {
    reply(protocolError(400, target.error().message));
    return false;
  }
  target_ = std::move(target.value());
  return true;
}

/// The name was allowed: loops, https without CONNECT, Max-Forwards.
bool Exchange::admitted(const acl::Decision& decision) {
  const bool isConnect = request_.methodKind == http::Method::kConnect;
  // The rule that allowed the name; the address check after DNS may name
  // another, but a request that never gets there (DNS failure) is still
  // logged with the rule that let it through.
  recordDecision(record_, decision);
  addressesDecide_ = decision.addressesDecide;
  if (viaNamesUs(request_.headers, config_->server.viaPseudonym)) {
    reply(errorReply(Termination::kForwardingLoop,
                     "This request has already passed through this proxy: it would loop forever."));
    return false;
  }
  if (!isConnect && target_.scheme != "http") {
    reply(errorReply(Termination::kHttpsWithoutConnect,
                     "This proxy relays https:// only through CONNECT tunnels.",
                     "absolute-form https request"));
    return false;
  }
  // Only an admitted request is answered by the proxy itself: a stranger
  // gets 403, not our Allow list.
  if (maxForwardsExhausted(request_)) {
    answerMaxForwards();
    return false;
  }
  return true;
}

/// RFC 9110 §7.6.2: the last recipient answers TRACE/OPTIONS itself.
void Exchange::answerMaxForwards() {
  http::ResponseHead head;
  head.status = 200;
  head.reason = "OK";
  std::string body;
  if (request_.methodKind == http::Method::kTrace) {
    head.headers.add("Content-Type", "message/http");
    http::writeRequestHead(body, request_.method, request_.target, request_.headers);
  } else {
    head.headers.add("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, CONNECT");
  }
  writeToClient(buildClientResponse(head, BodyEncoding::kContentLength, body.size(), !keepAlive_,
                                    config_->server.viaPseudonym));
  writeToClient(body);
  record_.status = 200;
  finish();
}

void Exchange::resolve() {
  enter(Phase::kResolving);
  if (skipDnsForParent()) return;
  startDns();
}

void Exchange::startDns() {
  // Client reads stay enabled: toggling them costs two epoll_ctl calls per
  // request. Pipelined bytes or an EOF arriving meanwhile switch reading
  // off then (onClientRead, onClientEvent).
  auto answer = context_.resolver->resolve(
      resolveName(), [this](const net::DnsAnswer& a) { onResolved(a); }, dnsTicket_);
  if (answer) onResolved(*answer);
}

void Exchange::onResolved(const net::DnsAnswer& answer) {
  dnsTicket_ = 0;
  if (phase_ != Phase::kResolving) return;
  if (answer.failure) {
    context_.stats->dnsFailure();
    const bool timeout = *answer.failure == net::DnsFailure::kTimeout;
    ErrorReply e = errorReply(
        timeout ? Termination::kDnsTimeout : Termination::kDnsError,
        "The proxy could not find the address of " + target_.host + " (" + answer.detail + ").",
        answer.detail);
    record_.error = "dns: " + answer.detail;
    // Transparent: a name that does not resolve cannot be shown to agree
    // with the destination, so no stored copy stands in for it.
    if (!safeSearch_ && !directFallback_ && connection_.transparent() == nullptr &&
        cache_->serveWithoutDns()) {
      return;
    }
    reply(std::move(e), !body_.done || !keepAlive_);
    return;
  }
  std::vector<acl::IpAddress> addresses = answer.addresses;
  const TransparentDestination* dst = connection_.transparent();
  if (dst != nullptr && !transparentAddresses(*dst, addresses)) return;
  // Every address the name resolved to is checked (DNS rebinding, SSRF);
  // the log keeps them so a replay decides without resolving again.
  record_.addresses = joinAddresses(addresses);
  auto decision = checkAddresses(addresses);
  if (!decision.allowed()) {
    denied(decision);
    return;
  }
  recordDecision(record_, decision);
  addresses_ = std::move(addresses);
  if (directFallback_) {
    startUpstream();  // no parent connected: the cache was asked already
    return;
  }
  if (safeSearch_) {
    // Another address than the name's: no copy is shared with clients
    // that get the name's own answer (either way).
    record_.cache = log::CacheResult::kBypass;
    startUpstream();
    return;
  }
  // The cache answers only after the rules allowed every address: a client
  // the policy refuses must not read what another client fetched.
  enter(Phase::kCache);
  if (cache_->lookup()) return;
  startUpstream();
}

acl::RequestFacts Exchange::requestFacts() const {
  acl::RequestFacts facts;
  facts.client = connection_.clientIp();
  facts.method = request_.method;
  facts.isConnect = request_.methodKind == http::Method::kConnect;
  facts.scheme = facts.isConnect ? std::string_view() : std::string_view(target_.scheme);
  facts.host = target_.host;
  facts.port = target_.port;
  facts.user = user_;
  facts.groups = groups_;
  facts.time = context_.clock->systemNow();
  return facts;
}

acl::Decision Exchange::checkAddresses(const std::vector<acl::IpAddress>& addresses) const {
  // Every hard rule (port 25, special ranges, the proxy's own bound
  // addresses) lives in the policy: the daemon and `explain` ask the same.
  auto facts = requestFacts();
  facts.addresses = addresses;
  return config_->policy->evaluate(facts);
}

void Exchange::startUpstream() {
  enter(Phase::kFetching);
  if (!parents_.empty()) {
    upstream_->startViaParents(config_, request_, target_, body_, parents_);
    return;
  }
  upstream_->start(config_, request_, target_, body_, addresses_);
}

}  // namespace portcullis::proxy
