#include "acl/rule_time.h"

#include <algorithm>

namespace portcullis::acl {

bool ruleActiveAt(const PolicyImpl& policy, const Rule& rule, SystemTime t) {
  if (rule.until && t >= *rule.until) return false;
  if (rule.when && !policy.schedules[*rule.when].contains(t)) return false;
  if (rule.unless && policy.schedules[*rule.unless].contains(t)) return false;
  return true;
}

SystemTime nextTimeEdge(const PolicyImpl& policy, SystemTime t) {
  SystemTime next = SystemTime::max();
  std::vector<bool> used(policy.schedules.size(), false);
  for (const Rule& r : policy.rules) {
    if (r.until && *r.until > t) next = std::min(next, *r.until);
    if (r.when) used[*r.when] = true;
    if (r.unless) used[*r.unless] = true;
  }
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i]) next = std::min(next, policy.schedules[i].nextChange(t));
  }
  return next;
}

std::vector<const Rule*> rulesExpiringWithin(const PolicyImpl& policy, SystemTime t,
                                             std::chrono::seconds within) {
  std::vector<const Rule*> out;
  for (const Rule& r : policy.rules) {
    if (r.until && *r.until > t && *r.until - t <= within) out.push_back(&r);
  }
  std::sort(out.begin(), out.end(),
            [](const Rule* a, const Rule* b) { return *a->until < *b->until; });
  return out;
}

}  // namespace portcullis::acl
