// Exchange in transparent mode: the connection was redirected by the kernel
// (nftables redirect or tproxy), so the request names no proxy target. Port
// 80 (and any other port read as HTTP): the target is Host + path, and Host
// must agree with the original destination. TLS ports: the SNI of the
// ClientHello is judged as a CONNECT to that name would be. Either way only
// the original destination is connected to (CERT VU#435052), after the same
// rules, hard rules and post-DNS checks as an explicit request.

#include "daemon/admin/stats.h"
#include "daemon/proxy/exchange.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::protocolError;

namespace {
constexpr std::string_view kTransparentSniMismatchRule = "hard:transparent-sni-mismatch";
}  // namespace

bool Exchange::transparentTarget(const TransparentDestination& dst) {
  if (dst.tls) {
    // The connection built a CONNECT to "sni:port" from the ClientHello.
    auto target = http::parseAuthorityForm(request_.target);
    if (!target.ok()) {
      refuseTransparentTls("hard:transparent-no-sni", "server name: " + target.error().message);
      return false;
    }
    target_ = std::move(target.value());
    return true;
  }
  if (request_.methodKind == http::Method::kConnect ||
      request_.methodKind == http::Method::kOther) {
    reply(errorReply(Termination::kMethodNotSupported,
                     "The proxy could not accept this request: method not supported here.",
                     "method not supported in transparent mode"));
    return false;
  }
  auto target = transparentHttpTarget(request_, dst);
  if (!target.ok()) {
    if (target.error().status == 409) {
      hostMismatch(dst, target.error().message);
    } else {
      reply(protocolError(400, target.error().message));
    }
    return false;
  }
  target_ = std::move(target.value());
  return true;
}

bool Exchange::transparentAddresses(const TransparentDestination& dst,
                                    std::vector<acl::IpAddress>& addresses) {
  if (!agreesWith(dst.ip, addresses)) {
    hostMismatch(dst, target_.host + " does not resolve to " + dst.ip.toString());
    return false;
  }
  // Whatever else the name resolves to, the client was going to dst: the
  // admission checks it, and the upstream connects to it alone.
  addresses = {dst.ip};
  return true;
}

void Exchange::hostMismatch(const TransparentDestination& dst, std::string detail) {
  const std::string_view rule = dst.tls ? kTransparentSniMismatchRule : kHostMismatchRule;
  context_.stats->aclDenied(rule);
  connection_.noteRefusal();
  record_.decision = log::AccessDecision::kDeny;
  record_.rule = std::string(rule);
  record_.ruleWhere.clear();
  if (record_.url.empty() || record_.url[0] == '/') record_.url = dst.authority();
  // 409 rather than 403: no rule the admin wrote refused it; the request
  // itself names another server than the one it was sent to (Squid's
  // host_verify_strict answers 409 Conflict too).
  ErrorReply e = errorReply(
      Termination::kTransparentMismatch,
      "This request names another server than the one it was sent to (" + dst.authority() + ").",
      std::move(detail));
  e.rule = std::string(rule);
  reply(std::move(e), true);
}

void Exchange::refuseTransparentTls(std::string_view rule, std::string detail) {
  const auto* dst = connection_.transparent();
  if (!active_) {
    config_ = context_.config();
    record_ = log::AccessRecord{};
    record_.method = "-";
  }
  record_.mode = "transparent";
  if (dst != nullptr) record_.url = dst->authority();
  context_.stats->aclDenied(rule);
  connection_.noteRefusal();
  record_.decision = log::AccessDecision::kDeny;
  record_.rule = std::string(rule);
  ErrorReply e = errorReply(Termination::kDeniedByRule, "Not a TLS connection naming a server.",
                            std::move(detail));
  e.rule = std::string(rule);
  reply(std::move(e), true);
}

}  // namespace portcullis::proxy
