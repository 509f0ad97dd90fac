#pragma once
// Instants as people write them in the config (`until`) and on the command
// line (`explain --at`), and as the tools print them back.

#include <optional>
#include <string>
#include <string_view>

#include "daemon/base/clock.h"

namespace portcullis::config {

/// An instant as `until` and `explain --at` take it: "YYYY-MM-DDTHH:MM[:SS]"
/// followed by nothing (local time in the system's zone, /etc/localtime;
/// UTC when it has none), "Z", "+HH:MM" / "-HH:MM", or a space and a tz
/// database zone ("2026-12-05T15:30 Europe/Paris"). A local time the clocks
/// skip means the instant they jumped; one they repeat, its first occurrence.
/// nullopt and `error` set when it is not one.
std::optional<SystemTime> parseInstant(std::string_view text, std::string& error);

/// "2026-12-05T15:30:00+01:00 (Europe/Paris)"-style text of `t` in the system's zone.
std::string formatLocalInstant(SystemTime t);

}  // namespace portcullis::config
