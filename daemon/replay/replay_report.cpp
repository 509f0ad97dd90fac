// printReport: the replay's report for people (replay.h).

#include <algorithm>
#include <ostream>

#include "daemon/replay/replay.h"

namespace portcullis::replay {

namespace {

constexpr std::array<std::string_view, kChangeKinds> kKindNames = {"allow -> deny", "deny -> allow",
                                                                   "same verdict, another rule"};

std::string percent(size_t part, size_t whole) {
  if (whole == 0) return "0%";
  const double p = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  char buf[32];
  std::snprintf(buf, sizeof buf, p < 0.1 && part > 0 ? "%.3f%%" : "%.1f%%", p);
  return buf;
}

void printKind(std::ostream& out, std::string_view name, const ChangeStats& s, size_t top) {
  out << "\n" << name << ": " << s.count << "\n";
  std::vector<std::pair<std::pair<std::string, std::string>, size_t>> t(s.transitions.begin(),
                                                                        s.transitions.end());
  std::stable_sort(t.begin(), t.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (size_t i = 0; i < t.size() && i < top; ++i) {
    out << "  " << t[i].second << "  " << t[i].first.first << " -> " << t[i].first.second << "\n";
  }
  if (t.size() > top) out << "  ... and " << t.size() - top << " other rule pair(s)\n";
  for (const ChangeExample& e : s.examples) {
    out << "  e.g. line " << e.line << ": " << e.request << "\n    " << e.before << "  ->  "
        << e.after << (e.byNameOnly ? "  [by name only: no address in the log]" : "") << "\n";
  }
}

}  // namespace

void printReport(std::ostream& out, const ReplayReport& r, std::string_view baselineName,
                 size_t top) {
  out << "replayed " << r.records
      << " access record(s) against the candidate; baseline: " << baselineName << "\n";
  out << "compared: " << r.compared << "; not decided by the rules (authentication, [[limit]], "
      << "SNI check, malformed requests): " << r.notByRules << "\n";
  if (r.byNameOnly > 0) {
    out << "decided by name only: " << r.byNameOnly
        << " (the log names no address for them: denied before DNS, DNS failed, or an older "
           "log; address conditions and special ranges could not be checked)\n";
  }
  if (r.malformed > 0) {
    out << "malformed lines: " << r.malformed << "\n";
    for (const auto& [line, why] : r.malformedExamples)
      out << "  line " << line << ": " << why << "\n";
  }
  out << "changed: " << r.changed() << " of " << r.compared << " ("
      << percent(r.changed(), r.compared) << ")\n";
  for (size_t k = 0; k < kChangeKinds; ++k) {
    out << "  " << kKindNames[k] << ": " << r.changes[k].count << "\n";
  }
  for (size_t k = 0; k < kChangeKinds; ++k) {
    if (r.changes[k].count > 0) printKind(out, kKindNames[k], r.changes[k], top);
  }
  if (!r.logMode.empty()) {
    out << "\nlog-mode rules of the candidate (mode = \"log\": reported, not enforced):\n";
    for (const auto& [name, s] : r.logMode) {
      out << "  " << name << ": would " << (s.verdict == acl::Verdict::kAllow ? "allow" : "deny")
          << " " << s.count << " request(s), first at line " << s.firstLine << "\n";
    }
  }
}

}  // namespace portcullis::replay
