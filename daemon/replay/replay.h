#pragma once
// Safe rule changes: replays logged requests through a candidate policy and
// counts which decisions would change. Pure: records in, a report out; the
// command (replay_command.h) reads the files. No name is ever resolved: a
// record decides on the addresses its log line names, or by name alone.

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acl/policy.h"
#include "daemon/replay/logged_request.h"

namespace portcullis::replay {

/// The facts a policy decides a logged request on: the one place a record
/// becomes acl::RequestFacts (so a new fact, such as the request's time,
/// is wired in here once). Views into `record` and `groups`.
acl::RequestFacts factsFromRecord(const LoggedRequest& record, std::span<const std::string> groups);

/// How a decision changed between the baseline and the candidate.
enum class Change { kAllowToDeny, kDenyToAllow, kOtherRule };
inline constexpr size_t kChangeKinds = 3;

/// One changed request, as printed under its kind.
struct ChangeExample {
  size_t line = 0;
  std::string request;  ///< "10.0.0.5 alice GET http://x/"
  std::string before;   ///< "allow by staff-web"
  std::string after;    ///< "deny by block-games (candidate.toml:30)"
  bool byNameOnly = false;
};

struct ChangeStats {
  size_t count = 0;
  /// (rule before, rule after) -> requests.
  std::map<std::pair<std::string, std::string>, size_t> transitions;
  std::vector<ChangeExample> examples;
};

/// A `mode = "log"` rule of the candidate that matched.
struct LogModeStats {
  acl::Verdict verdict = acl::Verdict::kDeny;
  size_t count = 0;
  size_t firstLine = 0;
};

struct ReplayReport {
  size_t records = 0;     ///< lines read as access records
  size_t compared = 0;    ///< records both sides decided
  size_t notByRules = 0;  ///< decided by something else: auth, limits, SNI, bad requests
  size_t byNameOnly = 0;  ///< compared with no address known (no DNS answer in the log)
  size_t malformed = 0;   ///< lines that are no access record
  std::vector<std::pair<size_t, std::string>> malformedExamples;  ///< line, why
  std::array<ChangeStats, kChangeKinds> changes;
  std::map<std::string, LogModeStats> logMode;  ///< candidate's log-mode rules by name

  size_t changed() const { return changes[0].count + changes[1].count + changes[2].count; }
};

/// The groups a user has in one config ([groups]).
using GroupsOf = std::function<std::span<const std::string>(const std::string& user)>;

/// One side of the comparison: a policy and its groups.
struct ReplaySide {
  const acl::Policy* policy = nullptr;
  GroupsOf groups;
};

class Replay {
 public:
  /// `baseline.policy == nullptr`: compare with the decision the log
  /// recorded (the running config's). Otherwise with that policy's.
  Replay(ReplaySide candidate, ReplaySide baseline, size_t examplesPerKind);

  /// Adds one record (its line number in the record).
  void add(const LoggedRequest& record);
  /// Counts a line that is no access record; keeps the first few reasons.
  void malformed(size_t line, std::string why);

  const ReplayReport& report() const { return report_; }

 private:
  /// True when the logged outcome came from the rules (not auth, a rate
  /// limit, the SNI check or a malformed request).
  static bool decidedByRules(const LoggedRequest& r);
  void note(Change kind, const LoggedRequest& r, std::string beforeRule, std::string before,
            const acl::Decision& after);

  ReplaySide candidate_;
  ReplaySide baseline_;
  size_t examples_;
  ReplayReport report_;
};

/// The report for people: counts per kind, the rule transitions behind
/// them (most frequent first, `top` of them), the examples, log-mode rules.
void printReport(std::ostream& out, const ReplayReport& report, std::string_view baselineName,
                 size_t top = 5);

}  // namespace portcullis::replay
