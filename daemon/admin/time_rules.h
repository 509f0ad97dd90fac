#pragma once
// The status page's view of the rules' time conditions, read from a policy.

#include <chrono>

#include "acl/policy.h"
#include "daemon/admin/stats.h"

namespace portcullis::admin {

/// Every schedule's state at `now` and the rules whose `until` falls within
/// `within` of it (soonest first).
TimeRules timeRulesOf(const acl::Policy& policy, SystemTime now,
                      std::chrono::seconds within = std::chrono::hours(24));

}  // namespace portcullis::admin
