// The status views of [schedules] and `until` (issue #16 item 6): each
// schedule open or closed with its next change, and the rules expiring within
// 24 hours, read from the policy at the snapshot's time.
#include <doctest/doctest.h>

#include <date/tz.h>

#include "daemon/admin/stats.h"
#include "daemon/admin/time_rules.h"
#include "daemon/config/config_loader.h"
#include "tests/unit/log/json_check.h"

using namespace portcullis;
using namespace portcullis::admin;
using portcullis::testing::JsonReader;

TEST_CASE("status lists the schedules' state and the rules expiring soon") {
  const std::string text =
      "[sources]\nlan = [\"10.0.0.0/8\"]\n"
      "[destinations]\nweb = { hosts = [\"*\"], ports = [80] }\n"
      "[schedules]\nlessons = { days = [\"mon-fri\"], hours = [\"08:30-12:00\"], "
      "timezone = \"Europe/Paris\" }\n"
      "[[rule]]\nname = \"soon\"\nuntil = \"2026-12-07T15:30Z\"\n"
      "allow = { from = \"lan\", to = \"web\" }\n"
      "[[rule]]\nname = \"later\"\nuntil = \"2026-12-09T15:30Z\"\n"
      "allow = { from = \"lan\", to = \"web\" }\n"
      "[[rule]]\nname = \"lesson-web\"\nwhen = \"lessons\"\n"
      "allow = { from = \"lan\", to = \"web\" }\n";
  auto r = config::loadConfigText(text, "t.toml", "");
  REQUIRE(r.config);
  // Monday 2026-12-07 10:15 in Paris (09:15Z).
  const SystemTime at{date::sys_days{date::year{2026} / 12 / 7} + std::chrono::hours{9} +
                      std::chrono::minutes{15}};
  Stats s(at);
  auto policy = r.config->policy;
  s.setTimeRulesSource([policy](SystemTime now) { return timeRulesOf(*policy, now); });
  const auto snap = s.snapshot(at);
  const auto v = JsonReader::parse(renderStatusJson(snap, {}, {}));
  REQUIRE(v.at("schedules").array.size() == 1);
  CHECK(v.at("schedules").array[0].at("name").string == "lessons");
  CHECK(v.at("schedules").array[0].at("open").boolean);
  CHECK(v.at("schedules").array[0].at("next_change").string == "2026-12-07T11:00:00.000Z");
  REQUIRE(v.at("expiring_rules").array.size() == 1);
  CHECK(v.at("expiring_rules").array[0].at("name").string == "soon");
  CHECK(v.at("expiring_rules").array[0].at("where").string == "t.toml:7");
  const std::string textView = renderStatusText(snap);
  CHECK(textView.find("lessons (Europe/Paris) open, changes at 2026-12-07T11:00:00.000Z") !=
        std::string::npos);
  CHECK(textView.find("rule soon (t.toml:7) at 2026-12-07T15:30:00.000Z") != std::string::npos);
}
