// [schedules] and the rules' when / unless / until: what loads, and every
// problem at its line and column in one pass.
#include <doctest/doctest.h>

#include <date/tz.h>

#include <string>

#include "acl/policy_impl.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/instant_text.h"
#include "loader_test_util.h"

using namespace portcullis;
using namespace portcullis::config;
using portcullis::config::testing::all;

namespace {

const std::string kHead =
    "[sources]\nlan = [\"10.0.0.0/8\"]\n"
    "[destinations]\nweb = { hosts = [\"*\"], ports = [80, 443] }\n";

SystemTime utc(int y, unsigned mo, unsigned d, int h, int mi) {
  return SystemTime{date::sys_days{date::year{y} / mo / d} + std::chrono::hours{h} +
                    std::chrono::minutes{mi}};
}

}  // namespace

TEST_CASE("a schedule and rules naming it load as written") {
  const std::string text =
      kHead +
      "[schedules]\n"
      "lessons = { days = [\"mon-fri\"], hours = [\"08:30-12:00\", "
      "\"13:00-15:30\"], timezone = \"Europe/Paris\" }\n"
      "night = { days = [\"fri-mon\", \"wed\"], hours = [\"22:00-06:00:30\"] }\n"
      "[[rule]]\nname = \"games\"\nuntil = \"2099-12-05T15:30 Europe/Paris\"\n"
      "allow = { from = \"lan\", to = \"web\" }\n"
      "[[rule]]\nname = \"lesson-deny\"\nwhen = \"lessons\"\ndeny = { from = \"lan\" }\n"
      "[[rule]]\nname = \"web\"\nunless = \"night\"\n"
      "allow = { from = \"lan\", to = \"web\" }\n";
  LoadResult r = loadConfigText(text, "t.toml", "");
  REQUIRE_MESSAGE(r.config, all(r));
  CHECK(all(r).empty());
  const auto& impl = r.config->policy->impl();
  REQUIRE(impl.schedules.size() == 2);
  CHECK(impl.schedules[0].name == "lessons");
  CHECK(impl.schedules[0].zoneName == "Europe/Paris");
  CHECK(impl.schedules[0].days == 0x3e);
  REQUIRE(impl.schedules[0].hours.size() == 2);
  CHECK(impl.schedules[0].hours[1].start == 13 * 3600);
  CHECK(impl.schedules[0].hours[1].end == 15 * 3600 + 30 * 60);
  CHECK(impl.schedules[1].days == ((1 << 5) | (1 << 6) | (1 << 0) | (1 << 1) | (1 << 3)));
  CHECK(impl.schedules[1].hours[0].end == 6 * 3600 + 30);
  CHECK(impl.rules[0].until == utc(2099, 12, 5, 14, 30));
  CHECK(impl.rules[1].when == 0u);
  CHECK(impl.rules[2].unless == 1u);
}

TEST_CASE("every schedule problem is reported at its place in one pass") {
  const std::string text = kHead +
                           "[schedules]\n"                                                 // 5
                           "a = { days = [\"mon-fry\"], timezone = \"Europe/Pariss\" }\n"  // 6
                           "b = { hours = [\"8:30-12:00\", \"10:00-10:00\", \"25:00-26:00\"] }\n"
                           "c = { hours = [\"08:00-12:00\", \"11:00-13:00\"], days = [] }\n"  // 8
                           "d = \"mon\"\n"                                                    // 9
                           "[[rule]]\nwhen = \"lesons\"\nuntil = \"2026-13-01T10:00\"\n"  // 10-12
                           "allow = { from = \"lan\", to = \"web\" }\n"
                           "[[rule]]\nunless = \"a\"\nuntil = \"2020-01-01T00:00Z\"\n"  // 14-16
                           "allow = { from = \"lan\", to = \"web\" }\n";
  LoadResult r = loadConfigText(text, "t.toml", "");
  CHECK_FALSE(r.config);
  const std::string d = all(r);
  CAPTURE(d);
  CHECK(d.find("t.toml:6:15: error: 'mon-fry' is not a day") != std::string::npos);
  CHECK(d.find("t.toml:6:38: error: unknown time zone 'Europe/Pariss'") != std::string::npos);
  CHECK(d.find("t.toml:7:16: error: '8:30-12:00' is not a range of hours") != std::string::npos);
  CHECK(d.find("t.toml:7:30: error: '10:00-10:00' is empty") != std::string::npos);
  CHECK(d.find("t.toml:7:45: error: '25:00-26:00' is not a range") != std::string::npos);
  CHECK(d.find("t.toml:8:31: error: '11:00-13:00' overlaps an earlier range") != std::string::npos);
  CHECK(d.find("t.toml:8:54: error: 'days' is empty") != std::string::npos);
  CHECK(d.find("t.toml:9:5: error: schedule 'd' must be a table") != std::string::npos);
  CHECK(d.find("t.toml:11:8: error: no schedule named 'lesons'") != std::string::npos);
  CHECK(d.find("t.toml:12:9: error: 'until': '2026-13-01T10:00' is not a date") !=
        std::string::npos);
  CHECK(d.find("t.toml:16:9: warning: rule 'rule#2' expired at") != std::string::npos);
}

TEST_CASE("an unused schedule is a warning; ranges across midnight may not overlap either") {
  LoadResult r =
      loadConfigText(kHead +
                         "[schedules]\nn = { hours = [\"22:00-06:00\", \"05:00-07:00\"] }\n"
                         "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
                     "t.toml", "");
  const std::string d = all(r);
  CHECK(d.find("overlaps an earlier range") != std::string::npos);
  LoadResult u = loadConfigText(kHead +
                                    "[schedules]\nn = { hours = [\"08:00-09:00\"] }\n"
                                    "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
                                "t.toml", "");
  CHECK(u.config);
  CHECK(all(u).find("t.toml:6:5: warning: schedule 'n' is not used by any rule") !=
        std::string::npos);
}

TEST_CASE("until and --at: offsets, Z, zones, the system zone, TOML date-times") {
  std::string error;
  CHECK(parseInstant("2026-12-05T15:30Z", error) == utc(2026, 12, 5, 15, 30));
  CHECK(parseInstant("2026-12-05T15:30:00+01:00", error) == utc(2026, 12, 5, 14, 30));
  CHECK(parseInstant("2026-07-05T15:30-04:00", error) == utc(2026, 7, 5, 19, 30));
  CHECK(parseInstant("2026-07-05T15:30 Europe/Paris", error) == utc(2026, 7, 5, 13, 30));
  // Skipped by the spring change: the instant of the jump; repeated: the first.
  CHECK(parseInstant("2026-03-29T02:30 Europe/Paris", error) == utc(2026, 3, 29, 1, 0));
  CHECK(parseInstant("2026-10-25T02:30 Europe/Paris", error) == utc(2026, 10, 25, 0, 30));
  // No suffix: the system's zone.
  const auto local = parseInstant("2026-12-05T15:30", error);
  REQUIRE(local);
  const date::time_zone* zone = date::current_zone();
  CHECK(zone->to_local(std::chrono::floor<std::chrono::seconds>(*local)) ==
        date::local_days{date::year{2026} / 12 / 5} + std::chrono::hours{15} +
            std::chrono::minutes{30});
  for (const char* bad :
       {"2026-12-05", "2026-12-05T25:00Z", "2026-02-30T10:00Z", "2026-12-05T15:30+1",
        "2026-12-05T15:30 Mars/Olympus", "9999-12-05T15:30Z", "tomorrow"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseInstant(bad, error));
  }
  LoadResult r = loadConfigText(kHead +
                                    "[[rule]]\nuntil = 2099-12-05T15:30:00Z\n"
                                    "allow = { from = \"lan\", to = \"web\" }\n",
                                "t.toml", "");
  REQUIRE_MESSAGE(r.config, all(r));
  CHECK(r.config->policy->impl().rules[0].until == utc(2099, 12, 5, 15, 30));
}

TEST_CASE("a deny of everything only at some times hides no later rule: no warning") {
  LoadResult r = loadConfigText(kHead +
                                    "[schedules]\nexams = { days = [\"mon\"] }\n"
                                    "[[rule]]\nwhen = \"exams\"\ndeny = {}\n"
                                    "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
                                "t.toml", "");
  REQUIRE_MESSAGE(r.config, all(r));
  CHECK(all(r).empty());
}
