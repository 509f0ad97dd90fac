#include "daemon/admin/time_rules.h"

#include "acl/policy_impl.h"
#include "acl/rule_time.h"

namespace portcullis::admin {

TimeRules timeRulesOf(const acl::Policy& policy, SystemTime now, std::chrono::seconds within) {
  TimeRules out;
  const acl::PolicyImpl& p = policy.impl();
  for (const acl::Schedule& s : p.schedules) {
    out.schedules.push_back({s.name, s.zoneName, s.contains(now), s.nextChange(now)});
  }
  for (const acl::Rule* r : acl::rulesExpiringWithin(p, now, within)) {
    out.expiring.push_back({r->name, r->where.toString(), *r->until});
  }
  return out;
}

}  // namespace portcullis::admin
