// [[rule]] mode: "enforce" (the default) or "log" (evaluated, never decides).
#include <doctest/doctest.h>

#include "acl/policy_impl.h"
#include "daemon/config/config_loader.h"
#include "tests/unit/config/loader_test_util.h"

using namespace portcullis::config;

TEST_CASE("mode = \"log\" loads as a log-only rule, with a note; anything else is an error") {
  const std::string sets =
      "[sources]\nlan = [\"10.0.0.0/8\"]\n"
      "[destinations]\nweb = { hosts = [\"*\"], ports = [80, 443] }\n"
      "games = { hosts = [\"*.games.example\"] }\n";
  const std::string allow = "[[rule]]\nname = \"web\"\nallow = { from = \"lan\", to = \"web\" }\n";
  LoadResult r = loadConfigText(
      sets + "[[rule]]\nname = \"try\"\nmode = \"log\"\ndeny = { to = \"games\" }\n" + allow,
      "t.toml");
  REQUIRE_MESSAGE(r.config, testing::all(r));
  const auto& rules = r.config->policy->impl().rules;
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].logOnly);
  CHECK_FALSE(rules[1].logOnly);
  CHECK(testing::all(r).find("t.toml:8:8: note: this rule is in log mode") != std::string::npos);
  // A log-mode deny ahead does not shadow the allow: no warning about it.
  CHECK(testing::all(r).find("warning") == std::string::npos);

  LoadResult enforced = loadConfigText(
      sets + "[[rule]]\nmode = \"enforce\"\ndeny = { to = \"games\" }\n" + allow, "t.toml");
  REQUIRE(enforced.config);
  CHECK_FALSE(enforced.config->policy->impl().rules[0].logOnly);

  LoadResult bad = loadConfigText(
      sets + "[[rule]]\nmode = \"dry-run\"\ndeny = { to = \"games\" }\n" + allow, "t.toml");
  CHECK_FALSE(bad.config);
  CHECK(testing::all(bad).find("t.toml:7:8: error: 'mode' must be \"enforce\" or \"log\", not "
                               "\"dry-run\"") != std::string::npos);
}
