#include "daemon/config/instant_text.h"

#include <date/tz.h>

#include <charconv>
#include <sstream>

namespace portcullis::config {

namespace {

bool number(std::string_view text, size_t pos, size_t len, int& out) {
  if (pos + len > text.size()) return false;
  auto r = std::from_chars(text.data() + pos, text.data() + pos + len, out);
  return r.ec == std::errc() && r.ptr == text.data() + pos + len;
}

const date::time_zone* systemZone() {
  try {
    return date::current_zone();
  } catch (const std::exception&) {
    return nullptr;
  }
}

/// The instant of a wall time in `zone`: skipped -> the jump, repeated -> the first.
SystemTime inZone(const date::time_zone* zone, date::local_seconds wall) {
  if (zone == nullptr) return SystemTime{wall.time_since_epoch()};
  const date::local_info info = zone->get_info(wall);
  if (info.result == date::local_info::nonexistent) return info.second.begin;
  return SystemTime{wall.time_since_epoch() - info.first.offset};
}

}  // namespace

std::optional<SystemTime> parseInstant(std::string_view text, std::string& error) {
  error = "'" + std::string(text) +
          "' is not a date and time: write \"YYYY-MM-DDTHH:MM\" (local time of the system), "
          "optionally followed by seconds, \"Z\", an offset such as \"+01:00\", or a space and "
          "a time zone such as \" Europe/Paris\"";
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!number(text, 0, 4, y) || text.size() < 16 || text[4] != '-' || !number(text, 5, 2, mo) ||
      text[7] != '-' || !number(text, 8, 2, d) || (text[10] != 'T' && text[10] != ' ') ||
      !number(text, 11, 2, h) || text[13] != ':' || !number(text, 14, 2, mi)) {
    return std::nullopt;
  }
  size_t pos = 16;
  if (pos < text.size() && text[pos] == ':') {
    if (!number(text, pos + 1, 2, s)) return std::nullopt;
    pos += 3;
  }
  date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                           date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || y < 1970 || y > 2200 || h > 23 || mi > 59 || s > 59) return std::nullopt;
  auto wall = date::local_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
              std::chrono::seconds{s};
  std::string_view rest = text.substr(pos);
  if (rest.empty()) return inZone(systemZone(), wall);
  if (rest == "Z" || rest == "z") return SystemTime{wall.time_since_epoch()};
  if ((rest[0] == '+' || rest[0] == '-') && rest.size() == 6 && rest[3] == ':') {
    int oh = 0, om = 0;
    if (!number(rest, 1, 2, oh) || !number(rest, 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    auto offset = std::chrono::hours{oh} + std::chrono::minutes{om};
    auto utc = wall.time_since_epoch() + (rest[0] == '+' ? -offset : offset);
    return SystemTime{utc};
  }
  if (rest[0] == ' ') {
    std::string zone(rest.substr(1));
    try {
      return inZone(date::locate_zone(zone), wall);
    } catch (const std::exception&) {
      error = "unknown time zone '" + zone + "' (use a tz database name such as Europe/Paris)";
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string formatLocalInstant(SystemTime t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const date::time_zone* zone = systemZone();
  std::ostringstream out;
  if (zone == nullptr) {
    out << date::format("%FT%TZ", secs);
  } else {
    out << date::format("%FT%T%Ez", date::make_zoned(zone, secs)) << " (" << zone->name() << ")";
  }
  return out.str();
}

}  // namespace portcullis::config
