// [[cache.refresh]] and [[cache.alias]]: what they load into, and every
// diagnostic with the file:line:col it points at.
#include <doctest/doctest.h>

#include <string>

#include "daemon/config/config_loader.h"
#include "tests/unit/config/loader_test_util.h"

using namespace portcullis::config;
using namespace portcullis::config::testing;

namespace {
LoadResult load(const std::string& cache) {
  return loadConfigText("[cache]\n" + cache + kPolicy, "t.toml");
}
}  // namespace

TEST_CASE("cache rules load into the config") {
  auto r = load(
      "[[cache.refresh]]\n"
      "hosts = [\"deb.debian.org\", \"*.debian.org\"]\n"
      "path = \"/debian/pool/*\"\n"
      "min = \"30d\"\nmax = \"365d\"\npercent = 20\n"
      "[[cache.refresh]]\nmax = \"1h\"\n"
      "[[cache.alias]]\nhosts = [\"*.steamcontent.com\"]\nidentity = \"steam\"\n");
  CAPTURE(all(r));
  REQUIRE(r.config);
  CHECK(r.diagnostics.empty());
  const auto& rules = *r.config->cache.rules;
  REQUIRE(rules.refresh.size() == 2);
  CHECK(rules.refresh[0].hosts.size() == 2);
  CHECK(rules.refresh[0].hosts[1].text() == "*.debian.org");
  CHECK(rules.refresh[0].path == "/debian/pool/*");
  CHECK(rules.refresh[0].heuristic.minSeconds == 30 * 86400);
  CHECK(rules.refresh[0].heuristic.maxSeconds == 365 * 86400);
  CHECK(rules.refresh[0].heuristic.percent == 20);
  CHECK(rules.refresh[0].where == "t.toml:2:1");
  CHECK(rules.refresh[1].hosts.empty());
  CHECK(rules.refresh[1].path == "*");
  CHECK(rules.refresh[1].heuristic.minSeconds == 0);
  REQUIRE(rules.aliases.size() == 1);
  CHECK(rules.aliases[0].identity == "steam");
  CHECK(rules.aliases[0].where == "t.toml:10:1");
}

TEST_CASE("no rules: an empty rule set, never null") {
  auto r = loadConfigText(kPolicy, "t.toml");
  REQUIRE(r.config);
  REQUIRE(r.config->cache.rules);
  CHECK(r.config->cache.rules->refresh.empty());
  CHECK(r.config->cache.rules->aliases.empty());
}

TEST_CASE("cache rule diagnostics name file:line:col") {
  struct Case {
    const char* name;
    std::string cache;
    std::string expect;
    bool fatal = true;
  };
  const Case cases[] = {
      {"refresh without max", "[[cache.refresh]]\nmin = \"1d\"\n",
       "t.toml:2:1: error: [[cache.refresh]] needs 'max'"},
      {"min longer than max", "[[cache.refresh]]\nmin = \"2d\"\nmax = \"1d\"\n",
       "t.toml:3:7: error: 'min' is longer than 'max'"},
      {"bad duration", "[[cache.refresh]]\nmax = \"forever\"\n", "t.toml:3:7: error: "},
      {"percent out of range", "[[cache.refresh]]\nmax = \"1d\"\npercent = 5000\n",
       "t.toml:4:11: error: 'percent' must be from 0 to 1000"},
      {"percent not a number", "[[cache.refresh]]\nmax = \"1d\"\npercent = \"20%\"\n",
       "t.toml:4:11: error: 'percent' must be a number, not a string"},
      {"path without a leading slash", "[[cache.refresh]]\nmax = \"1d\"\npath = \"debian/*\"\n",
       "t.toml:4:8: error: 'path' is a glob on the URL path"},
      {"bad host pattern", "[[cache.refresh]]\nmax = \"1d\"\nhosts = [\"a.*.org\"]\n",
       "t.toml:4:10: error: 'hosts': 'a.*.org'"},
      {"unknown key with hint", "[[cache.refresh]]\nmax = \"1d\"\nprecent = 20\n",
       "t.toml:4:1: error: unknown key 'precent' in [cache.refresh]; did you mean 'percent'?"},
      {"refresh not an array of tables", "refresh = 1\n",
       "t.toml:2:11: error: 'refresh' must be written as [[cache.refresh]] tables"},
      {"shadowed refresh rule",
       "[[cache.refresh]]\nmax = \"1d\"\n[[cache.refresh]]\nhosts = [\"a.org\"]\npath = "
       "\"/x/*\"\nmax = \"2d\"\n",
       "t.toml:4:1: warning: this [[cache.refresh]] never applies: the rule at t.toml:2:1", false},
      {"same hosts, same path: shadowed",
       "[[cache.refresh]]\nhosts = [\"a.org\"]\npath = \"/x/*\"\nmax = \"1d\"\n"
       "[[cache.refresh]]\nhosts = [\"a.org\"]\npath = \"/x/*\"\nmax = \"2d\"\n",
       "t.toml:6:1: warning: this [[cache.refresh]] never applies", false},
      {"alias without identity", "[[cache.alias]]\nhosts = [\"a.org\"]\n",
       "t.toml:2:1: error: [[cache.alias]] needs 'identity'"},
      {"alias without hosts", "[[cache.alias]]\nidentity = \"x\"\n",
       "t.toml:2:1: error: [[cache.alias]] needs 'hosts'"},
      {"bad identity", "[[cache.alias]]\nhosts = [\"a.org\"]\nidentity = \"Steam Games\"\n",
       "t.toml:4:12: error: 'identity' must be 1-63 lower-case letters"},
      {"alias for every host", "[[cache.alias]]\nhosts = [\"*\"]\nidentity = \"all\"\n",
       "t.toml:3:10: error: 'hosts': \"*\" would make every host one object per path"},
      {"one pattern, two identities",
       "[[cache.alias]]\nhosts = [\"*.cdn.org\"]\nidentity = \"a\"\n"
       "[[cache.alias]]\nhosts = [\".cdn.org\"]\nidentity = \"b\"\n",
       "t.toml:6:10: error: '*.cdn.org' is already aliased at t.toml:3:10 (identity 'a')"},
      {"pattern listed twice",
       "[[cache.alias]]\nhosts = [\"x.org\", \"y.org\", \"x.org\"]\nidentity = \"a\"\n",
       "t.toml:3:28: warning: 'x.org' is listed twice; first at t.toml:3:10 (identity 'a')", false},
      {"overlapping wildcard",
       "[[cache.alias]]\nhosts = [\"*.cdn.org\"]\nidentity = \"a\"\n"
       "[[cache.alias]]\nhosts = [\"special.cdn.org\"]\nidentity = \"b\"\n",
       "t.toml:6:10: warning: 'special.cdn.org' overlaps '*.cdn.org' at t.toml:3:10 (identity "
       "'a'); hosts matching both get the more specific one's identity ('b')",
       false},
      {"unknown alias key", "[[cache.alias]]\nhosts = [\"a.org\"]\nidentity = \"a\"\nhost = 1\n",
       "t.toml:5:1: error: unknown key 'host' in [cache.alias]; did you mean 'hosts'?"},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      auto r = load(tc.cache);
      CAPTURE(all(r));
      CHECK(all(r).find(tc.expect) != std::string::npos);
      CHECK((r.config == nullptr) == tc.fatal);
    }
  }
}
