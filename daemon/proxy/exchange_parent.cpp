// Exchange through parent proxies ([[parent]], README "Parent proxies").
// The hard rules and the ACL decide before anything is sent to a parent:
// routeParents() runs only after admission allowed the request by name
// (port 25, CONNECT ports, an IP literal's special ranges and our own
// addresses included). The name is then not resolved: the parent does
// that, and its own rules apply to the addresses. Two exceptions resolve
// first and check every address as a direct fetch would: an allow that
// depends on the addresses (a rule with CIDRs on the way), and the direct
// fallback when no parent could be reached.

#include "daemon/proxy/exchange.h"
#include "daemon/proxy/parent_tls.h"

namespace portcullis::proxy {

void Exchange::routeParents() {
  parents_.clear();
  // Transparent connections go to their original destination only.
  if (config_->parents.list.empty() || connection_.transparent() != nullptr) return;
  const auto m = request_.methodKind;
  // Cacheable requests are hashed so each URL lives in one parent's cache.
  const bool hashed = m == http::Method::kGet || m == http::Method::kHead;
  const auto now = context_.clock->steadyNow();
  auto route =
      chooseParents(*config_, requestFacts(), hashed,
                    hashed ? target_.normalizedUri() : std::string(), context_.parents, now);
  parents_ = std::move(route.hops);
  for (ParentHop& hop : parents_) {
    if (hop.tls && context_.parentTls != nullptr)
      hop.tlsContext = context_.parentTls->get(hop.name);
  }
}

bool Exchange::skipDnsForParent() {
  if (parents_.empty()) return false;
  // A [[safe_search]] substitution means connecting to another name's
  // addresses: only a direct fetch can do that.
  resolveName();
  if (safeSearch_) {
    parents_.clear();
    return false;
  }
  if (addressesDecide_) return false;  // resolved and checked, then sent to the parent
  enter(Phase::kCache);
  if (cache_->lookup()) return true;
  startUpstream();
  return true;
}

void Exchange::parentsExhausted(ErrorReply error, std::string logError) {
  if (config_->parents.neverDirect) {
    error.message += " Going direct is not allowed here ([parents] never_direct).";
    upstreamFailed(std::move(error), logError + "; never_direct", true, !body_.done);
    return;
  }
  // Direct, with every check a direct fetch has: DNS, then each address.
  parents_.clear();
  directFallback_ = true;
  record_.parent.clear();
  if (!addresses_.empty()) {
    upstream_->start(config_, request_, target_, body_, addresses_);
    return;
  }
  enter(Phase::kResolving);
  startDns();
}

}  // namespace portcullis::proxy
