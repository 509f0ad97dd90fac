#pragma once
// The compiled policy's data: named sets and ordered rules. Filled by the
// config loader (or tests), then wrapped in a Policy and never changed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "acl/cidr_set.h"
#include "acl/host_set.h"
#include "acl/policy.h"
#include "acl/schedule.h"
#include "acl/source_location.h"

namespace portcullis::acl {

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
};

/// A named set of client networks.
struct SourceSet {
  std::string name;
  SourceLocation where;
  CidrSet cidrs;
  /// Its clients may send proxy credentials on the plain (non-TLS) port.
  bool plaintextAuth = false;
};

/// A named set of destinations. A request matches when every condition the
/// set has holds: (host name in `hosts` OR address in `cidrs`) AND port AND
/// method AND scheme. A condition the set does not have always holds.
struct DestinationSet {
  std::string name;
  SourceLocation where;
  HostSet hosts;                     ///< inline patterns and hosts_file names
  CidrSet cidrs;                     ///< every block written
  CidrSet openedSpecial;             ///< the blocks that lie inside a special range
  std::vector<PortRange> ports;      ///< empty: any port (CONNECT: 443 only)
  std::vector<std::string> methods;  ///< empty: any method; case-sensitive
  std::vector<std::string> schemes;  ///< empty: any; "http", "https", "connect"

  bool hasHostCondition() const { return !hosts.empty() || !cidrs.empty(); }
};

/// One rule; sets are referred to by index. Empty `from`/`to` = any.
struct Rule {
  std::string name;
  SourceLocation where;
  Verdict verdict = Verdict::kDeny;
  std::vector<size_t> from;  ///< indices into PolicyImpl::sources
  std::vector<size_t> to;    ///< indices into PolicyImpl::destinations
  /// `users = [...]`: the rule matches only a logged-in user named here or
  /// in one of `groups` ("group:NAME" entries). Both empty = anyone, logged
  /// in or not.
  std::vector<std::string> users;
  std::vector<std::string> groups;
  /// `mode = "log"`: evaluated and reported (Decision::would) but never
  /// decides; evaluation continues with the next rule.
  bool logOnly = false;

  bool needsIdentity() const { return !users.empty() || !groups.empty(); }

  /// Time conditions (rule_time.h), judged at RequestFacts::time: `when` /
  /// `unless` name a schedule (index into PolicyImpl::schedules) the time must
  /// be inside / outside; past `until` the rule matches nothing.
  std::optional<size_t> when;
  std::optional<size_t> unless;
  std::optional<SystemTime> until;
  std::string untilText;  ///< `until` as written, for messages

  bool hasTimeCondition() const { return when || unless || until; }
};

class PolicyImpl {
 public:
  std::vector<SourceSet> sources;
  std::vector<DestinationSet> destinations;
  std::vector<Rule> rules;
  std::vector<Schedule> schedules;  ///< [schedules], by name in rules' when/unless
};

/// The CONNECT ports a set allows: its ports, or 443 when it names none.
bool connectPortAllowed(const DestinationSet& set, uint16_t port);

}  // namespace portcullis::acl
