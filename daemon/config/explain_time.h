#pragma once
// The time part of `portcullis explain`: which instant the request is judged
// at (--at, or now), which schedules are open then, and the rules that an
// `until` has expired or will expire.

#include <optional>
#include <ostream>
#include <string>

#include "acl/policy.h"
#include "daemon/base/clock.h"

namespace portcullis::config {

/// The instant `--at` names (parseInstant), or the system clock when empty.
/// nullopt (and the reason in `error`) when it is not an instant.
std::optional<SystemTime> explainTime(const std::string& at, std::string& error);

/// "time: ..." and, when the policy has schedules or until rules, one line
/// each saying whether it is open / active at `t` and when that changes.
void printTimeFacts(std::ostream& out, const acl::Policy& policy, SystemTime t, bool given);

}  // namespace portcullis::config
