// The worker's PolicyWatch with a fake clock: it arms its one timer at the
// next edge of a schedule or `until` as the injected clock sees it (across
// the Paris spring change), re-judges at the edge and after a reload, and
// arms nothing when no rule depends on time.
#include <doctest/doctest.h>

#include <date/tz.h>
#include <event2/event.h>

#include <vector>

#include "daemon/config/config_loader.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/policy_watch.h"
#include "tests/unit/proxy/fake_clock.h"

using namespace portcullis;
using portcullis::testing::FakeClock;

namespace {

SystemTime utc(int y, unsigned mo, unsigned d, int h, int mi) {
  return SystemTime{date::sys_days{date::year{y} / mo / d} + std::chrono::hours{h} +
                    std::chrono::minutes{mi}};
}

std::shared_ptr<const config::Config> load(const std::string& rules) {
  const std::string text =
      "[sources]\nlan = [\"10.0.0.0/8\"]\n"
      "[destinations]\nweb = { hosts = [\"*\"], ports = [80] }\n"
      "[schedules]\nlessons = { days = [\"mon-fri\"], hours = [\"08:30-12:00\"], "
      "timezone = \"Europe/Paris\" }\n" +
      rules;
  auto r = config::loadConfigText(text, "t.toml", "");
  REQUIRE(r.config);
  return r.config;
}

}  // namespace

TEST_CASE("PolicyWatch arms at the next edge by the injected clock and re-judges there") {
  net::EventBasePtr base(event_base_new());
  FakeClock clock;
  std::vector<SystemTime> rechecks;
  proxy::PolicyWatch watch(base.get(), clock,
                           [&](const acl::Policy&, SystemTime now) { rechecks.push_back(now); });
  const auto lessons = load(
      "[[rule]]\nwhen = \"lessons\"\nallow = { from = \"lan\", to = \"web\" }\n"
      "[[rule]]\nuntil = \"2026-03-30T06:45Z\"\nallow = { from = \"lan\", to = \"web\" }\n");
  // Friday 27 March 2026, 11:59:59.980 in Paris (CET): the lesson ends at 11:00Z.
  clock.setSystem(utc(2026, 3, 27, 10, 59) + std::chrono::milliseconds(59980));
  watch.policyChanged(lessons, false);
  CHECK(rechecks.empty());
  CHECK(watch.nextEdge() == utc(2026, 3, 27, 11, 0));
  // The timer waits ~25 ms of real time; by then the fake clock is past the edge.
  clock.setSystem(utc(2026, 3, 27, 11, 0) + std::chrono::milliseconds(5));
  event_base_loop(base.get(), EVLOOP_ONCE);
  REQUIRE(rechecks.size() == 1);
  CHECK(rechecks[0] == utc(2026, 3, 27, 11, 0) + std::chrono::milliseconds(5));
  // Next: Monday 30 March 08:30 CEST (summer time since Sunday) = 06:30Z, before the until.
  CHECK(watch.nextEdge() == utc(2026, 3, 30, 6, 30));
  clock.setSystem(utc(2026, 3, 30, 6, 31));
  watch.policyChanged(lessons, true);  // a reload: judged at once
  CHECK(rechecks.size() == 2);
  CHECK(watch.nextEdge() == utc(2026, 3, 30, 6, 45));
  // A policy without time conditions arms nothing.
  watch.policyChanged(load("[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n"), true);
  CHECK(rechecks.size() == 3);
  CHECK(watch.nextEdge() == SystemTime::max());
}
