#pragma once
// What an access-log line says about the rule that decided: one helper for
// every place the exchange records a Decision (before DNS, after DNS, a
// denial, a cached copy's origin re-check).

#include <span>
#include <string>

#include "acl/ip_address.h"
#include "acl/policy.h"
#include "daemon/log/access_record.h"

namespace portcullis::proxy {

/// Copies the deciding rule, its file:line and a log-mode rule's match
/// (would_deny / would_allow) into `record`; a later decision replaces an
/// earlier one's, so the line shows the last check made.
inline void recordDecision(log::AccessRecord& record, const acl::Decision& decision) {
  record.rule = decision.rule;
  record.ruleWhere = decision.where.file.empty() ? "" : decision.where.toString();
  if (decision.would) {
    record.wouldVerdict = decision.would->verdict == acl::Verdict::kAllow ? "allow" : "deny";
    record.wouldRule = decision.would->rule;
  } else {
    record.wouldVerdict = {};
    record.wouldRule.clear();
  }
}

/// "a,b": the addresses a name resolved to, as AccessRecord::addresses.
inline std::string joinAddresses(std::span<const acl::IpAddress> addresses) {
  std::string out;
  for (const acl::IpAddress& a : addresses) {
    if (!out.empty()) out += ',';
    out += a.toString();
  }
  return out;
}

}  // namespace portcullis::proxy
