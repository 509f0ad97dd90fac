// Decisions that stay true over time: an exchange that holds a decision for
// as long as it runs (a CONNECT tunnel, a response still streaming) is judged
// again when the rules may have changed their answer. Squid, Traffic Server
// and e2guardian check only when a request arrives, so a tunnel opened at
// 11:59 would run on past a window that closed at 12:00.

#include "daemon/proxy/exchange.h"

namespace portcullis::proxy {

std::optional<acl::Decision> Exchange::recheck(const acl::Policy& policy, SystemTime now) {
  if (!active_) return std::nullopt;
  // A response is "streaming" once its head went out (status set); before
  // that the exchange is still being decided and answers by itself.
  const bool streaming =
      (phase_ == Phase::kFetching || phase_ == Phase::kWaiting || phase_ == Phase::kSliced) &&
      record_.status != 0;
  if (phase_ != Phase::kTunnel && !streaming) return std::nullopt;
  acl::RequestFacts facts = requestFacts();
  facts.addresses = addresses_;
  facts.time = now;
  acl::Decision d = policy.evaluate(facts);
  if (d.allowed()) return std::nullopt;
  record_.decision = log::AccessDecision::kDeny;
  record_.rule = d.rule;
  record_.ruleWhere = d.where.file.empty() ? "" : d.where.toString();
  record_.termination = describe(Termination::kClosedByPolicy).name;
  record_.error = "closed by policy: " + d.reason;
  d.reason = record_.error;
  return d;
}

}  // namespace portcullis::proxy
