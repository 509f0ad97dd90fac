#include "daemon/config/acl_warnings.h"

#include "acl/rule_analysis.h"

namespace portcullis::config {

namespace {
constexpr size_t kMaxPairwiseOverlapCheck = 2000;

std::string quoted(const std::string& name) {
  return "'" + name + "'";
}

/// "rule 'web' (school.toml:26)".
std::string ruleAt(const acl::Rule& r) {
  return "rule " + quoted(r.name) + " (" + r.where.toString() + ")";
}

std::string sourceName(const acl::PolicyImpl& p, size_t a, size_t b) {
  size_t i = a != acl::RuleIssue::kAny ? a : b;
  return i != acl::RuleIssue::kAny ? quoted(p.sources[i].name) : "any client";
}

std::string destinationName(const acl::PolicyImpl& p, size_t a, size_t b) {
  size_t i = a != acl::RuleIssue::kAny ? a : b;
  return i != acl::RuleIssue::kAny ? quoted(p.destinations[i].name) : "anywhere";
}

std::string shadowedMessage(const acl::PolicyImpl& p, const acl::RuleIssue& s) {
  const acl::Rule& rule = p.rules[s.rule];
  std::string msg = "rule " + quoted(rule.name) + " can never match: " + ruleAt(p.rules[s.by]) +
                    " comes first and matches every request it would";
  if (s.source != acl::RuleIssue::kAny && s.bySource != acl::RuleIssue::kAny) {
    const std::string inner = quoted(p.sources[s.source].name);
    const std::string outer = quoted(p.sources[s.bySource].name);
    msg += "; source set " + inner + " lies inside " + outer + ", so rules for " + outer +
           " decide for " + inner + " too: put the rules for " + inner + " above them";
  }
  return msg;
}

std::string issueMessage(const acl::PolicyImpl& p, const acl::RuleIssue& s) {
  const acl::Rule& rule = p.rules[s.rule];
  const acl::Rule& by = p.rules[s.by];
  const std::string name = quoted(rule.name);
  const std::string byName = quoted(by.name);
  switch (s.kind) {
    case acl::RuleIssueKind::kShadowed:
      return shadowedMessage(p, s);
    case acl::RuleIssueKind::kAllowFirst:
      return ruleAt(rule) + " denies requests that " + ruleAt(by) +
             " comes first and allows (from " + sourceName(p, s.source, s.bySource) + " to " +
             destinationName(p, s.destination, s.byDestination) +
             "): the first matching rule decides, so the deny never applies to them; move " + name +
             " above " + byName + " if it should win";
    case acl::RuleIssueKind::kDenyFirst: {
      const std::string set = quoted(p.destinations[s.destination].name);
      std::string part = !s.pattern.empty() ? quoted(s.pattern) + " (in " + set + ")"
                         : s.addresses      ? "the addresses of " + set
                                            : set;
      return ruleAt(rule) + " allows " + part + " from " + quoted(p.sources[s.source].name) +
             ", but " + ruleAt(by) +
             " comes first and denies all of it, so that part of the "
             "allow can never match; move " +
             name + " above " + byName + " if it should win";
    }
    case acl::RuleIssueKind::kInnerSource: {
      const std::string inner = quoted(p.sources[s.source].name);
      const std::string outer = quoted(p.sources[s.bySource].name);
      return ruleAt(rule) + " names source set " + inner + ", which lies inside " + outer + ": " +
             ruleAt(by) + " names " + outer + " and comes first, so it decides for " + inner +
             " too and " + name + " does not apply to the requests it takes; put the rules for " +
             inner + " above those for " + outer + " (the first matching rule decides)";
    }
  }
  return {};
}
}  // namespace

void warnOverlaps(TomlReader& r, const std::string& setName, const std::vector<acl::Cidr>& cidrs,
                  const std::vector<toml::source_region>& where) {
  if (cidrs.size() > kMaxPairwiseOverlapCheck) return;
  for (size_t i = 0; i < cidrs.size(); ++i) {
    for (size_t j = 0; j < cidrs.size(); ++j) {
      if (i == j || !cidrs[j].covers(cidrs[i])) continue;
      // Report identical blocks once, at the later one.
      if (cidrs[i].prefix == cidrs[j].prefix && j > i) continue;
      r.warning(where[i], "'" + cidrs[i].toString() + "' in set '" + setName +
                              "' is already covered by '" + cidrs[j].toString() + "' (line " +
                              std::to_string(where[j].begin.line) + ")");
      break;
    }
  }
}

void warnWholeInternet(TomlReader& r, const std::string& setName,
                       const std::vector<acl::Cidr>& cidrs,
                       const std::vector<toml::source_region>& where) {
  for (size_t i = 0; i < cidrs.size(); ++i) {
    if (cidrs[i].writtenPrefix() == 0) {
      r.warning(where[i], "source set '" + setName + "' contains " + cidrs[i].toString() +
                              ": every client on the Internet; on a public address this is an "
                              "open proxy");
    }
  }
}

void warnLowerCaseMethods(TomlReader& r, const toml::table& destinationSet) {
  const toml::array* methods = destinationSet["methods"].as_array();
  if (methods == nullptr) return;
  for (const toml::node& el : *methods) {
    const toml::value<std::string>* v = el.as_string();
    if (v == nullptr) continue;
    const std::string& m = v->get();
    std::string upper = m;
    bool letters = !m.empty();
    for (char& ch : upper) {
      if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
      letters = letters && ((ch >= 'A' && ch <= 'Z') || ch == '-');
    }
    if (!letters || upper == m) continue;
    // RFC 9110 §9.1: the method token is case-sensitive.
    r.warning(el.source(), "method '" + m +
                               "' can never match: methods are case-sensitive and "
                               "clients send them in capitals; write \"" +
                               upper + "\"");
  }
}

void warnRuleOrder(TomlReader& r, const acl::PolicyImpl& policy) {
  for (const acl::RuleIssue& s : acl::findRuleIssues(policy)) {
    const acl::SourceLocation& at = policy.rules[s.rule].where;
    r.add(Severity::kWarning, at.file, at.line, at.column, issueMessage(policy, s));
  }
}

}  // namespace portcullis::config
