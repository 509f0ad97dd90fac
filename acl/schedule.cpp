#include "acl/schedule.h"

#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace portcullis::acl {

namespace {

using std::chrono::seconds;
using Instant = date::sys_seconds;

constexpr int kDay = 24 * 3600;

/// The instant a wall time names in `zone` (see the header: a skipped time is
/// the instant of the jump, a repeated one its first occurrence).
Instant resolve(const date::time_zone* zone, date::local_seconds wall) {
  if (zone == nullptr) return Instant{wall.time_since_epoch()};
  const date::local_info info = zone->get_info(wall);
  switch (info.result) {
    case date::local_info::nonexistent:
      return info.second.begin;
    case date::local_info::ambiguous:
    case date::local_info::unique:
    default:
      return Instant{wall.time_since_epoch() - info.first.offset};
  }
}

date::local_days localDay(const date::time_zone* zone, SystemTime t) {
  auto s = std::chrono::floor<seconds>(t);
  date::local_seconds wall =
      zone == nullptr ? date::local_seconds{s.time_since_epoch()} : zone->to_local(s);
  return std::chrono::floor<date::days>(wall);
}

struct Span {
  Instant begin;
  Instant end;
};

/// The windows that start on local days [first, last), in order, merged
/// where they touch or overlap.
std::vector<Span> windows(const Schedule& s, date::local_days first, date::local_days last) {
  std::vector<Span> out;
  static const std::vector<DailyHours> kWholeDay{{0, kDay}};
  const auto& hours = s.hours.empty() ? kWholeDay : s.hours;
  for (date::local_days d = first; d < last; d += date::days{1}) {
    if ((s.days & (1u << date::weekday{d}.c_encoding())) == 0) continue;
    for (const DailyHours& h : hours) {
      int end = h.end > h.start ? h.end : h.end + kDay;
      Span w{resolve(s.zone, d + seconds{h.start}), resolve(s.zone, d + seconds{end})};
      if (w.begin < w.end) out.push_back(w);
    }
  }
  std::sort(out.begin(), out.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::vector<Span> merged;
  for (const Span& w : out) {
    if (!merged.empty() && w.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, w.end);
    } else {
      merged.push_back(w);
    }
  }
  return merged;
}

}  // namespace

bool Schedule::contains(SystemTime t) const {
  const date::local_days d = localDay(zone, t);
  // A window of the day before may run past midnight.
  for (const Span& w : windows(*this, d - date::days{1}, d + date::days{2})) {
    if (w.begin <= t && t < w.end) return true;
  }
  return false;
}

SystemTime Schedule::nextChange(SystemTime t) const {
  const date::local_days d = localDay(zone, t);
  // The pattern repeats every week: nine days ahead always hold the next edge,
  // unless one stretch covers more than a week (then nothing ever changes).
  const auto spans = windows(*this, d - date::days{1}, d + date::days{9});
  for (const Span& w : spans) {
    if (t < w.begin) return w.begin;
    if (t < w.end) {
      if (w.end - w.begin > date::days{8}) return SystemTime::max();
      return w.end;
    }
  }
  return SystemTime::max();
}

int parseWeekday(std::string_view name) {
  static constexpr std::string_view kNames[] = {"sunday",   "monday", "tuesday", "wednesday",
                                                "thursday", "friday", "saturday"};
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 7; ++i) {
    if (lower == kNames[i] || (lower.size() == 3 && kNames[i].substr(0, 3) == lower)) return i;
  }
  return -1;
}

int parseTimeOfDay(std::string_view text, bool isEnd) {
  int parts[3] = {0, 0, 0};
  size_t n = 0;
  size_t pos = 0;
  while (n < 3) {
    if (pos + 2 > text.size()) return -1;
    auto r = std::from_chars(text.data() + pos, text.data() + pos + 2, parts[n]);
    if (r.ec != std::errc() || r.ptr != text.data() + pos + 2) return -1;
    pos += 2;
    ++n;
    if (pos == text.size()) break;
    if (text[pos] != ':') return -1;
    ++pos;
  }
  if (n < 2 || pos != text.size()) return -1;
  if (parts[1] > 59 || parts[2] > 59) return -1;
  int total = parts[0] * 3600 + parts[1] * 60 + parts[2];
  if (parts[0] > 23) return isEnd && total == kDay ? total : -1;
  return total;
}

}  // namespace portcullis::acl
