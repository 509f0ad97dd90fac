#include "daemon/replay/replay.h"

namespace portcullis::replay {

namespace {

std::string_view verdictName(acl::Verdict v) {
  return v == acl::Verdict::kAllow ? "allow" : "deny";
}

std::string describe(const acl::Decision& d) {
  std::string s = std::string(verdictName(d.verdict)) + " by " + d.rule;
  if (!d.where.file.empty()) s += " (" + d.where.toString() + ")";
  return s;
}

}  // namespace

acl::RequestFacts factsFromRecord(const LoggedRequest& record,
                                  std::span<const std::string> groups) {
  acl::RequestFacts facts;
  facts.client = record.client;
  facts.method = record.method;
  facts.scheme = record.scheme;
  facts.host = record.host;
  facts.port = record.port;
  facts.isConnect = record.isConnect;
  // No DNS here: the addresses the log line names (AddressSource), or none,
  // and Policy::evaluate answers as before DNS.
  facts.addresses = record.addresses;
  facts.user = record.user;
  facts.groups = groups;
  // Schedules and `until` are judged at the time the request was made.
  facts.time = record.start;
  return facts;
}

Replay::Replay(ReplaySide candidate, ReplaySide baseline, size_t examplesPerKind)
    : candidate_(std::move(candidate)),
      baseline_(std::move(baseline)),
      examples_(examplesPerKind) {}

bool Replay::decidedByRules(const LoggedRequest& r) {
  const std::string_view rule = r.loggedRule;
  // Outcomes decided elsewhere, with the rule names the proxy logs for them:
  // proxy authentication (auth:*), the SNI check (sni:*, hard:sni-mismatch),
  // transparent-mode mismatches, a [[limit]] (its own name, status 429) and
  // requests refused before any rule (no rule).
  if (rule.empty() || rule.starts_with("auth:") || rule.starts_with("sni:") ||
      rule.starts_with("hard:sni-") || rule.starts_with("hard:transparent-")) {
    return false;
  }
  return r.status != 429;
}

void Replay::add(const LoggedRequest& r) {
  ++report_.records;
  if (!r.targetOk || (baseline_.policy == nullptr && !decidedByRules(r))) {
    ++report_.notByRules;
    return;
  }
  const acl::Decision after =
      candidate_.policy->evaluate(factsFromRecord(r, candidate_.groups(r.user)));
  if (after.would) {
    LogModeStats& s = report_.logMode[after.would->rule];
    s.verdict = after.would->verdict;
    if (s.count++ == 0) s.firstLine = r.line;
  }
  acl::Verdict beforeVerdict = r.loggedVerdict;
  std::string beforeRule = r.loggedRule;
  std::string before;
  if (baseline_.policy != nullptr) {
    acl::Decision d = baseline_.policy->evaluate(factsFromRecord(r, baseline_.groups(r.user)));
    beforeVerdict = d.verdict;
    before = describe(d);
    beforeRule = std::move(d.rule);
  } else {
    before = std::string(verdictName(beforeVerdict)) + " by " + beforeRule;
  }
  ++report_.compared;
  if (r.addressSource == AddressSource::kNone) ++report_.byNameOnly;
  if (beforeVerdict != after.verdict) {
    note(after.allowed() ? Change::kDenyToAllow : Change::kAllowToDeny, r, std::move(beforeRule),
         std::move(before), after);
  } else if (beforeRule != after.rule) {
    note(Change::kOtherRule, r, std::move(beforeRule), std::move(before), after);
  }
}

void Replay::note(Change kind, const LoggedRequest& r, std::string beforeRule, std::string before,
                  const acl::Decision& after) {
  ChangeStats& s = report_.changes[static_cast<size_t>(kind)];
  ++s.count;
  ++s.transitions[{std::move(beforeRule), after.rule}];
  if (s.examples.size() >= examples_) return;
  ChangeExample e;
  e.line = r.line;
  e.request =
      r.client.toString() + " " + (r.user.empty() ? "-" : r.user) + " " + r.method + " " + r.url;
  e.before = std::move(before);
  e.after = describe(after);
  e.byNameOnly = r.addressSource == AddressSource::kNone;
  s.examples.push_back(std::move(e));
}

void Replay::malformed(size_t line, std::string why) {
  ++report_.malformed;
  if (report_.malformedExamples.size() < examples_) {
    report_.malformedExamples.emplace_back(line, std::move(why));
  }
}

}  // namespace portcullis::replay
