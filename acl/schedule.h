#pragma once
// A named weekly window of wall-clock time ([schedules] in the config), in a
// time zone of the system's tz database. Pure: answers "is instant T inside?"
// and "when does that answer next change after T?" (so the daemon arms one
// timer at the edge instead of polling). The zone object comes from the tz
// database, loaded once when the config is read.
//
// What a window means, for local date D whose weekday is in `days` and each
// range "S-E" of `hours` (the whole day when there is none):
//   the instants from wall time D S to wall time D E, or D+1 E when E <= S
//   (a range may cross midnight: "22:00-06:00" belongs to the day it starts on).
// Wall times that do not exist (the hour skipped when clocks go forward) mean
// the instant the clocks jumped; wall times that happen twice (clocks go back)
// mean their first occurrence. So a window is always one unbroken stretch of
// real time: "01:30-03:00" on the spring-forward day in Paris lasts 30
// minutes, "01:00-02:30" on the fall-back day lasts 90 minutes and does not
// open again when 02:00-02:30 comes round a second time.

#include <cstdint>
#include <string>
#include <vector>

#include "acl/source_location.h"
#include "daemon/base/clock.h"

namespace date {
class time_zone;
}

namespace portcullis::acl {

/// One range of a day: seconds since local midnight. end <= start crosses
/// midnight; end may be 86400 ("24:00").
struct DailyHours {
  int start = 0;
  int end = 0;
};

/// Bits of Schedule::days: bit d is weekday d, 0 = Sunday ... 6 = Saturday.
inline constexpr uint8_t kEveryDay = 0x7f;

/// Thread-safe (const) after construction.
class Schedule {
 public:
  std::string name;
  SourceLocation where;
  uint8_t days = kEveryDay;       ///< the weekdays a window starts on
  std::vector<DailyHours> hours;  ///< empty = the whole day
  /// From the tz database (lives as long as the process); null = UTC.
  const date::time_zone* zone = nullptr;
  std::string zoneName = "UTC";

  /// Whether `t` lies inside one of the windows.
  bool contains(SystemTime t) const;
  /// The first instant after `t` at which contains() gives another answer;
  /// SystemTime::max() when it never does (a window that covers every day).
  SystemTime nextChange(SystemTime t) const;
};

/// "mon".."sun" (any case; "monday" too) -> 0 (Sunday) .. 6; -1 when unknown.
int parseWeekday(std::string_view name);

/// "HH:MM" or "HH:MM:SS" (24:00 allowed for an end) -> seconds; -1 when invalid.
int parseTimeOfDay(std::string_view text, bool isEnd);

}  // namespace portcullis::acl
