#include "daemon/config/schedule_loader.h"

#include "daemon/config/instant_text.h"

#include <date/tz.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace portcullis::config {

namespace {

using Ctx = AclLoadContext;
constexpr int kDay = 24 * 3600;

const date::time_zone* systemZone() {
  try {
    return date::current_zone();
  } catch (const std::exception&) {
    return nullptr;  // no /etc/localtime: UTC
  }
}

/// "mon" or "mon-fri" (a range may wrap: "fri-mon") -> day bits; 0 when invalid.
uint8_t parseDays(std::string_view text, std::string& why) {
  size_t dash = text.find('-');
  int first = acl::parseWeekday(text.substr(0, dash));
  int last = dash == std::string_view::npos ? first : acl::parseWeekday(text.substr(dash + 1));
  if (first < 0 || last < 0) {
    why = "'" + std::string(text) +
          "' is not a day or a range of days: write \"mon\", \"tue\", ... \"sun\" or a "
          "range such as \"mon-fri\"";
    return 0;
  }
  uint8_t bits = 0;
  for (int d = first;; d = (d + 1) % 7) {
    bits |= static_cast<uint8_t>(1u << d);
    if (d == last) break;
  }
  return bits;
}

void readDays(Ctx& c, const toml::table& t, acl::Schedule& s) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (!c.r.getStringArray(t, "days", items, &where)) return;
  if (items.empty())
    c.r.error(t.get("days")->source(), "'days' is empty: the schedule never opens");
  s.days = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string why;
    uint8_t bits = parseDays(items[i], why);
    if (bits == 0) {
      c.r.error(where[i], why);
    } else if ((s.days & bits) != 0) {
      c.r.warning(where[i], "'" + items[i] + "' repeats a day named before");
    }
    s.days |= bits;
  }
}

bool overlaps(const acl::DailyHours& a, const acl::DailyHours& b) {
  auto span = [](const acl::DailyHours& h) {
    return std::pair<int, int>{h.start, h.end > h.start ? h.end : h.end + kDay};
  };
  auto [a0, a1] = span(a);
  auto [b0, b1] = span(b);
  for (int shift : {-kDay, 0, kDay}) {
    if (a0 < b1 + shift && b0 + shift < a1) return true;
  }
  return false;
}

void readHours(Ctx& c, const toml::table& t, acl::Schedule& s) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (!c.r.getStringArray(t, "hours", items, &where)) return;
  if (items.empty())
    c.r.error(t.get("hours")->source(), "'hours' is empty: leave it out for the whole day");
  std::vector<toml::source_region> kept;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& text = items[i];
    size_t dash = text.find('-');
    acl::DailyHours h;
    h.start = dash == std::string::npos ? -1 : acl::parseTimeOfDay(text.substr(0, dash), false);
    h.end = dash == std::string::npos ? -1 : acl::parseTimeOfDay(text.substr(dash + 1), true);
    if (h.start < 0 || h.end < 0) {
      c.r.error(where[i], "'" + text +
                              "' is not a range of hours: write \"HH:MM-HH:MM\" (24-hour clock, "
                              "seconds optional, \"24:00\" for the end of the day), e.g. "
                              "\"08:30-12:00\"");
      continue;
    }
    if (h.start == h.end || (h.start == 0 && h.end == kDay)) {
      c.r.error(where[i], h.start == h.end ? "'" + text + "' is empty: it starts where it ends"
                                           : "'" + text + "' is the whole day: leave 'hours' out");
      continue;
    }
    for (size_t j = 0; j < s.hours.size(); ++j) {
      if (overlaps(s.hours[j], h)) {
        c.r.error(where[i], "'" + text + "' overlaps an earlier range of this schedule (line " +
                                std::to_string(kept[j].begin.line) + "): merge them");
      }
    }
    s.hours.push_back(h);
    kept.push_back(where[i]);
  }
}

void readSchedule(Ctx& c, const std::string& name, const toml::node& node) {
  acl::Schedule s;
  s.name = name;
  s.where = location(c, node.source());
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    c.r.error(node.source(), "schedule '" + name +
                                 "' must be a table such as { days = [\"mon-fri\"], hours = "
                                 "[\"08:30-12:00\"], timezone = \"Europe/Paris\" }, not " +
                                 TomlReader::typeName(node));
    return;
  }
  readDays(c, *t, s);
  readHours(c, *t, s);
  s.zone = systemZone();
  std::string zone;
  if (c.r.getString(*t, "timezone", zone)) {
    try {
      s.zone = date::locate_zone(zone);
    } catch (const std::exception&) {
      c.r.error(t->get("timezone")->source(),
                "unknown time zone '" + zone +
                    "': use a tz database name such as \"Europe/Paris\", \"America/New_York\" "
                    "or \"UTC\" (see /usr/share/zoneinfo)");
    }
  }
  s.zoneName = s.zone == nullptr ? "UTC" : std::string(s.zone->name());
  c.impl.schedules.push_back(std::move(s));
}

std::optional<size_t> scheduleRef(Ctx& c, const toml::table& t, std::string_view key) {
  std::string name;
  if (!c.r.getString(t, key, name)) return std::nullopt;
  for (size_t i = 0; i < c.impl.schedules.size(); ++i) {
    if (c.impl.schedules[i].name == name) return i;
  }
  std::string known;
  for (const auto& s : c.impl.schedules) known += (known.empty() ? "" : ", ") + s.name;
  c.r.error(t.get(key)->source(), "no schedule named '" + name + "' (defined in [schedules]: " +
                                      (known.empty() ? "none" : known) + ")");
  return std::nullopt;
}

/// TOML's own date-time (until = 2026-12-05T15:30:00, unquoted) as the same text.
std::string dateTimeText(const toml::date_time& dt) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", dt.date.year, dt.date.month,
                dt.date.day, dt.time.hour, dt.time.minute, dt.time.second);
  std::string out = buf;
  if (dt.offset) {
    int m = dt.offset->minutes;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", m < 0 ? '-' : '+', std::abs(m) / 60,
                  std::abs(m) % 60);
    out += buf;
  }
  return out;
}

}  // namespace

void readSchedules(Ctx& c, const toml::table& root) {
  const toml::node* n = root.get("schedules");
  if (n == nullptr) return;
  const toml::table* t = n->as_table();
  if (t == nullptr) {
    c.r.error(n->source(), "'schedules' must be a table of named schedules");
    return;
  }
  for (auto&& [name, node] : *t) readSchedule(c, std::string(name.str()), node);
}

void readRuleTime(Ctx& c, const toml::table& t, acl::Rule& rule, SystemTime now) {
  rule.when = scheduleRef(c, t, "when");
  rule.unless = scheduleRef(c, t, "unless");
  const toml::node* u = t.get("until");
  if (u == nullptr) return;
  std::string text;
  if (const auto* dt = u->as_date_time()) {
    text = dateTimeText(dt->get());
  } else if (!c.r.getString(t, "until", text)) {
    return;
  }
  std::string error;
  auto at = parseInstant(text, error);
  if (!at) {
    c.r.error(u->source(), "'until': " + error);
    return;
  }
  rule.until = at;
  rule.untilText = text;
  if (*at <= now) {
    c.r.warning(u->source(), "rule '" + rule.name + "' expired at " + formatLocalInstant(*at) +
                                 ": it matches nothing any more; remove it");
  }
}

void warnUnusedSchedules(Ctx& c, const toml::table& root) {
  const toml::table* t = root["schedules"].as_table();
  if (t == nullptr) return;
  for (size_t i = 0; i < c.impl.schedules.size(); ++i) {
    bool used = std::any_of(c.impl.rules.begin(), c.impl.rules.end(),
                            [&](const acl::Rule& r) { return r.when == i || r.unless == i; });
    if (used) continue;
    if (const toml::node* n = t->get(c.impl.schedules[i].name)) {
      c.r.warning(n->source(),
                  "schedule '" + c.impl.schedules[i].name + "' is not used by any rule");
    }
  }
}

}  // namespace portcullis::config
