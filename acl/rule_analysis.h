#pragma once
// Static checks on a compiled policy: rules that can never match because an
// earlier rule already matches every request they would, and the ordering
// mistakes where an earlier rule quietly decides part of what a later rule
// of the other verdict names (first match wins, so the later one loses).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "acl/policy_impl.h"

namespace portcullis::acl {

struct Shadowed {
  size_t rule = 0;  ///< index of the rule that can never match
  size_t by = 0;    ///< index of the earlier rule that takes all its requests
};

/// Sound but not complete: every reported rule is truly unreachable; some
/// unreachable rules (covered only by a union of earlier rules) are missed.
std::vector<Shadowed> findShadowedRules(const PolicyImpl& policy);

/// True when set `outer` matches every request that set `inner` matches.
bool destinationCovers(const DestinationSet& outer, const DestinationSet& inner);

/// True when some request matches both sets. Names are compared with names
/// and addresses with addresses: whether a name resolves into a CIDR is not
/// known before DNS, so that case is not counted (no guessing, no noise).
bool destinationsMeet(const DestinationSet& a, const DestinationSet& b);

enum class RuleIssueKind {
  kShadowed,     ///< `by` matches every request of `rule`: it can never match
  kAllowFirst,   ///< allow `by` comes first and takes some requests deny `rule` names
  kDenyFirst,    ///< deny `by` comes first and takes a whole part allow `rule` names
  kInnerSource,  ///< `rule`'s source set lies inside `by`'s, which decides first
};

/// One ordering problem, reported at the later rule.
struct RuleIssue {
  static constexpr size_t kAny = SIZE_MAX;  ///< no set named on that side
  RuleIssueKind kind = RuleIssueKind::kShadowed;
  size_t rule = 0;  ///< the later rule, the one that loses
  size_t by = 0;    ///< the earlier rule that decides first
  /// Where the two meet: source set indices (kInnerSource, kShadowed when a
  /// source set lies inside another: `source` inside `bySource`) and
  /// destination set indices; kAny when that side names none.
  size_t source = kAny;
  size_t bySource = kAny;
  size_t destination = kAny;
  size_t byDestination = kAny;
  /// kDenyFirst: the host pattern of `destination` that `by` takes whole,
  /// "" when it takes the whole set (or its addresses: see `addresses`).
  std::string pattern;
  bool addresses = false;  ///< kDenyFirst: `by` takes the set's CIDRs whole
};

/// At most one issue per rule: full shadowing first, then the first earlier
/// rule that decides part of it. Exceptions written first (a deny of some
/// names above an allow of every name) are the intended idiom and are not
/// reported: a deny is reported above an allow only when it takes a whole
/// part the allow names (a source set, a destination set, a host pattern).
std::vector<RuleIssue> findRuleIssues(const PolicyImpl& policy);

}  // namespace portcullis::acl
