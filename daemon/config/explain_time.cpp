#include "daemon/config/explain_time.h"

#include "acl/policy_impl.h"
#include "daemon/config/instant_text.h"

namespace portcullis::config {

std::optional<SystemTime> explainTime(const std::string& at, std::string& error) {
  if (at.empty()) return std::chrono::system_clock::now();
  return parseInstant(at, error);
}

void printTimeFacts(std::ostream& out, const acl::Policy& policy, SystemTime t, bool given) {
  const acl::PolicyImpl& p = policy.impl();
  bool timed = !p.schedules.empty();
  for (const acl::Rule& r : p.rules) timed = timed || r.until.has_value();
  if (!timed && !given) return;
  out << "time: " << formatLocalInstant(t) << (given ? " (--at)" : " (now)") << "\n";
  for (const acl::Schedule& s : p.schedules) {
    const bool open = s.contains(t);
    out << "schedule " << s.name << " (" << s.zoneName << "): " << (open ? "open" : "closed");
    const SystemTime next = s.nextChange(t);
    if (next != SystemTime::max()) {
      out << " (" << (open ? "closes" : "opens") << " at " << formatLocalInstant(next) << ")";
    }
    out << "\n";
  }
  for (const acl::Rule& r : p.rules) {
    if (!r.until) continue;
    out << "rule " << r.name << ": " << (t < *r.until ? "active until " : "expired at ")
        << formatLocalInstant(*r.until) << "\n";
  }
}

}  // namespace portcullis::config
