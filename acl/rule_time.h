#pragma once
// The time conditions of rules (when = SCHEDULE, unless = SCHEDULE, until =
// INSTANT), and the next instant at which any of them changes its answer:
// the daemon arms one timer there to re-judge open tunnels and streaming
// responses. Pure: the time is always a parameter.

#include <chrono>
#include <vector>

#include "acl/policy_impl.h"
#include "daemon/base/clock.h"

namespace portcullis::acl {

/// Whether the rule's time conditions hold at `t` (true for a rule without any).
bool ruleActiveAt(const PolicyImpl& policy, const Rule& rule, SystemTime t);

/// The first instant after `t` at which some rule's time condition changes
/// its answer (a schedule it names opens or closes, its `until` passes);
/// SystemTime::max() when none ever will.
SystemTime nextTimeEdge(const PolicyImpl& policy, SystemTime t);

/// Rules whose `until` lies in (t, t + within], soonest first (status page).
std::vector<const Rule*> rulesExpiringWithin(const PolicyImpl& policy, SystemTime t,
                                             std::chrono::seconds within);

}  // namespace portcullis::acl
