// [schedules] windows: wall-clock time in a real tz database zone, exact
// across both DST transitions of 2026 in Paris and New York (a fake clock:
// every instant is a parameter).
#include <doctest/doctest.h>

#include <date/tz.h>

#include <cstdio>
#include <memory>
#include <string>

#include "acl/policy.h"
#include "acl/policy_impl.h"
#include "acl/rule_time.h"
#include "acl/schedule.h"

using namespace portcullis;
using namespace portcullis::acl;

namespace {

/// "2026-03-29T00:30:00Z" -> the instant (tests write UTC).
SystemTime utc(const char* text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  REQUIRE(std::sscanf(text, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s) == 6);
  auto day = date::sys_days{date::year{y} / mo / d};
  return SystemTime{day + std::chrono::hours{h} + std::chrono::minutes{mi} +
                    std::chrono::seconds{s}};
}

std::string show(SystemTime t) {
  if (t == SystemTime::max()) return "never";
  return date::format("%FT%TZ", std::chrono::floor<std::chrono::seconds>(t));
}

Schedule make(const char* zone, std::vector<DailyHours> hours, uint8_t days = kEveryDay) {
  Schedule s;
  s.name = "s";
  s.zone = date::locate_zone(zone);
  s.zoneName = zone;
  s.hours = std::move(hours);
  s.days = days;
  return s;
}

constexpr int hm(int h, int m) {
  return h * 3600 + m * 60;
}

constexpr uint8_t kMonFri = 0x3e;  // bits 1..5

}  // namespace

TEST_CASE("Paris spring forward (2026-03-29 02:00 CET -> 03:00 CEST): 01:30-03:00 lasts 30 min") {
  const Schedule s = make("Europe/Paris", {{hm(1, 30), hm(3, 0)}});
  // 01:30 CET = 00:30Z; 03:00 CEST = 01:00Z; 02:00-03:00 wall time never happens.
  CHECK_FALSE(s.contains(utc("2026-03-29T00:29:59Z")));
  CHECK(s.contains(utc("2026-03-29T00:30:00Z")));
  CHECK(s.contains(utc("2026-03-29T00:59:59Z")));
  CHECK_FALSE(s.contains(utc("2026-03-29T01:00:00Z")));
  CHECK(show(s.nextChange(utc("2026-03-29T00:00:00Z"))) == "2026-03-29T00:30:00Z");
  CHECK(show(s.nextChange(utc("2026-03-29T00:30:00Z"))) == "2026-03-29T01:00:00Z");
  // The next day's window is in CEST: 01:30 CEST = 23:30Z the day before.
  CHECK(show(s.nextChange(utc("2026-03-29T01:00:00Z"))) == "2026-03-29T23:30:00Z");
  // The day before, in CET: 00:30Z to 02:00Z.
  CHECK(show(s.nextChange(utc("2026-03-28T00:31:00Z"))) == "2026-03-28T02:00:00Z");
}

TEST_CASE("a window wholly inside the skipped hour never opens that day") {
  const Schedule s = make("Europe/Paris", {{hm(2, 15), hm(2, 45)}});
  CHECK_FALSE(s.contains(utc("2026-03-29T01:00:00Z")));
  CHECK_FALSE(s.contains(utc("2026-03-29T00:59:59Z")));
  CHECK(show(s.nextChange(utc("2026-03-29T00:00:00Z"))) == "2026-03-30T00:15:00Z");
}

TEST_CASE("Paris fall back (2026-10-25 03:00 CEST -> 02:00 CET): 01:00-02:30 opens once") {
  const Schedule s = make("Europe/Paris", {{hm(1, 0), hm(2, 30)}});
  // 01:00 CEST = 23:00Z the day before; the end 02:30 happens twice: the first counts.
  CHECK_FALSE(s.contains(utc("2026-10-24T22:59:59Z")));
  CHECK(s.contains(utc("2026-10-24T23:00:00Z")));
  CHECK(s.contains(utc("2026-10-25T00:15:00Z")));        // 02:15 CEST
  CHECK_FALSE(s.contains(utc("2026-10-25T00:30:00Z")));  // 02:30 CEST
  CHECK_FALSE(s.contains(utc("2026-10-25T01:15:00Z")));  // 02:15 CET, the second time round
  CHECK(show(s.nextChange(utc("2026-10-24T23:00:00Z"))) == "2026-10-25T00:30:00Z");
  // Next: 01:00 CET on the 26th = 00:00Z.
  CHECK(show(s.nextChange(utc("2026-10-25T00:30:00Z"))) == "2026-10-26T00:00:00Z");
  CHECK(s.contains(utc("2026-10-26T01:29:59Z")));
  CHECK_FALSE(s.contains(utc("2026-10-26T01:30:00Z")));
}

TEST_CASE("lessons mon-fri in Paris: the weekend and the change of offset") {
  const Schedule s =
      make("Europe/Paris", {{hm(8, 30), hm(12, 0)}, {hm(13, 0), hm(15, 30)}}, kMonFri);
  // Friday 27 March (CET, +1): 08:30 = 07:30Z.
  CHECK(s.contains(utc("2026-03-27T07:30:00Z")));
  CHECK_FALSE(s.contains(utc("2026-03-27T11:00:00Z")));  // lunch
  CHECK(show(s.nextChange(utc("2026-03-27T11:00:00Z"))) == "2026-03-27T12:00:00Z");
  // After Friday's last lesson: Monday 30 March, now CEST (+2): 08:30 = 06:30Z.
  CHECK(show(s.nextChange(utc("2026-03-27T14:30:00Z"))) == "2026-03-30T06:30:00Z");
  CHECK_FALSE(s.contains(utc("2026-03-28T09:00:00Z")));  // Saturday
  // Autumn: Friday 23 October (CEST) 15:30 = 13:30Z; Monday 26 (CET) 08:30 = 07:30Z.
  CHECK(show(s.nextChange(utc("2026-10-23T13:00:00Z"))) == "2026-10-23T13:30:00Z");
  CHECK(show(s.nextChange(utc("2026-10-23T13:30:00Z"))) == "2026-10-26T07:30:00Z");
  // 2026-12-07 is a Monday: 10:15 CET is inside the morning lessons.
  CHECK(s.contains(utc("2026-12-07T09:15:00Z")));
}

TEST_CASE("New York 2026: spring forward March 8, fall back November 1") {
  const Schedule spring = make("America/New_York", {{hm(1, 30), hm(3, 0)}});
  // 01:30 EST = 06:30Z; 03:00 EDT = 07:00Z.
  CHECK_FALSE(spring.contains(utc("2026-03-08T06:29:59Z")));
  CHECK(spring.contains(utc("2026-03-08T06:30:00Z")));
  CHECK_FALSE(spring.contains(utc("2026-03-08T07:00:00Z")));
  CHECK(show(spring.nextChange(utc("2026-03-08T06:30:00Z"))) == "2026-03-08T07:00:00Z");
  const Schedule fall = make("America/New_York", {{hm(1, 0), hm(2, 30)}});
  // 01:00 happens twice (EDT then EST): the first, 05:00Z. 02:30 is EST only: 07:30Z.
  CHECK_FALSE(fall.contains(utc("2026-11-01T04:59:59Z")));
  CHECK(fall.contains(utc("2026-11-01T05:00:00Z")));
  CHECK(fall.contains(utc("2026-11-01T06:15:00Z")));  // 01:15 EST, still inside
  CHECK(show(fall.nextChange(utc("2026-11-01T05:00:00Z"))) == "2026-11-01T07:30:00Z");
  CHECK_FALSE(fall.contains(utc("2026-11-01T07:30:00Z")));
}

TEST_CASE("hours across midnight belong to the day they start on") {
  // Fridays only, 22:00-06:00 UTC.
  const Schedule s = make("UTC", {{hm(22, 0), hm(6, 0)}}, 1u << 5);
  CHECK(s.contains(utc("2026-12-04T22:00:00Z")));  // Friday
  CHECK(s.contains(utc("2026-12-05T05:59:59Z")));  // Saturday morning, Friday's window
  CHECK_FALSE(s.contains(utc("2026-12-05T06:00:00Z")));
  CHECK_FALSE(s.contains(utc("2026-12-05T22:30:00Z")));  // Saturday night
  CHECK(show(s.nextChange(utc("2026-12-05T06:00:00Z"))) == "2026-12-11T22:00:00Z");
}

TEST_CASE("a schedule open all the time never changes; seconds are honoured") {
  const Schedule always = make("Europe/Paris", {});
  CHECK(always.contains(utc("2026-10-25T01:30:00Z")));
  CHECK(always.nextChange(utc("2026-10-25T01:30:00Z")) == SystemTime::max());
  const Schedule s = make("UTC", {{hm(10, 0) + 5, hm(10, 0) + 7}});
  CHECK_FALSE(s.contains(utc("2026-12-03T10:00:04Z")));
  CHECK(s.contains(utc("2026-12-03T10:00:05Z")));
  CHECK(show(s.nextChange(utc("2026-12-03T10:00:05Z"))) == "2026-12-03T10:00:07Z");
}

TEST_CASE("day names and times of day") {
  CHECK(parseWeekday("mon") == 1);
  CHECK(parseWeekday("Sunday") == 0);
  CHECK(parseWeekday("sat") == 6);
  CHECK(parseWeekday("mo") == -1);
  CHECK(parseWeekday("funday") == -1);
  CHECK(parseTimeOfDay("08:30", false) == hm(8, 30));
  CHECK(parseTimeOfDay("08:30:15", false) == hm(8, 30) + 15);
  CHECK(parseTimeOfDay("24:00", true) == 86400);
  CHECK(parseTimeOfDay("24:00", false) == -1);
  CHECK(parseTimeOfDay("24:01", true) == -1);
  CHECK(parseTimeOfDay("8:30", false) == -1);
  CHECK(parseTimeOfDay("08:60", false) == -1);
  CHECK(parseTimeOfDay("08:30:", false) == -1);
  CHECK(parseTimeOfDay("", false) == -1);
}

TEST_CASE("rules with when, unless and until are judged at RequestFacts::time") {
  PolicyImpl p;
  SourceSet s;
  s.name = "lan";
  s.cidrs.add(*parseCidr("10.0.0.0/8").cidr);
  s.cidrs.finalize();
  p.sources.push_back(std::move(s));
  DestinationSet d;
  d.name = "web";
  std::string err;
  d.hosts.add(*parseHostPattern("*", false, err));
  p.destinations.push_back(std::move(d));
  p.schedules.push_back(make("Europe/Paris", {{hm(8, 30), hm(12, 0)}}, kMonFri));
  auto rule = [&](const char* name, Verdict v) -> Rule& {
    Rule r;
    r.name = name;
    r.verdict = v;
    r.from = {0};
    r.to = {0};
    p.rules.push_back(std::move(r));
    return p.rules.back();
  };
  rule("games-until", Verdict::kAllow).until = utc("2026-12-07T10:00:00Z");
  rule("deny-in-lessons", Verdict::kDeny).when = 0;
  rule("allow-outside", Verdict::kAllow).unless = 0;
  const auto impl = std::make_shared<const PolicyImpl>(std::move(p));
  const Policy policy(impl);
  RequestFacts f;
  f.client = *IpAddress::parse("10.1.2.3");
  f.method = "GET";
  f.scheme = "http";
  f.host = "example.org";
  f.port = 80;
  struct Case {
    std::string at;
    std::string rule;
  } cases[] = {
      {"2026-12-07T09:59:59Z", "games-until"},      // Monday, lesson, before until
      {"2026-12-07T10:00:00Z", "deny-in-lessons"},  // until passed
      {"2026-12-07T11:00:00Z", "allow-outside"},    // 12:00 CET: lessons over
      {"2026-12-05T09:15:00Z", "games-until"},      // Saturday, before until
      {"2026-12-12T09:15:00Z", "allow-outside"},    // the Saturday after
  };
  for (const Case& c : cases) {
    CAPTURE(c.at);
    f.time = utc(c.at.c_str());
    CHECK(policy.evaluate(f).rule == c.rule);
  }
  // The edges the daemon arms its timer at: until, then the schedule's.
  CHECK(show(nextTimeEdge(*impl, utc("2026-12-07T09:00:00Z"))) == "2026-12-07T10:00:00Z");
  CHECK(show(nextTimeEdge(*impl, utc("2026-12-07T10:00:00Z"))) == "2026-12-07T11:00:00Z");
  CHECK(rulesExpiringWithin(*impl, utc("2026-12-06T10:00:01Z"), std::chrono::hours(24)).size() ==
        1);
  CHECK(rulesExpiringWithin(*impl, utc("2026-12-06T09:59:59Z"), std::chrono::hours(24)).empty());
  // At accept, with no time: a time-conditioned allow is "maybe", never a refusal.
  CHECK(policy.evaluateSource(f.client).allowed());
}
