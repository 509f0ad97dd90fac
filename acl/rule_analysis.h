#pragma once
// Static checks on a compiled policy: rules that can never match because an
// earlier rule already matches every request they would.

#include <cstddef>
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

}  // namespace portcullis::acl
