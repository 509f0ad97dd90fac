#include <doctest/doctest.h>

#include "cache/policy/cache_rules.h"
#include "cache/policy/freshness.h"
#include "cache/policy/http_date.h"
#include "cache/policy/invalidation.h"
#include "tests/unit/cache/policy_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;
using policy::HostGlob;
using policy::Usability;

namespace {
http::Target target(std::string_view uri) {
  auto t = http::parseAbsoluteForm(uri);
  REQUIRE(t.ok());
  return t.value();
}

HostGlob exact(std::string name) {
  return HostGlob{std::move(name), false, false};
}
HostGlob wild(std::string name) {
  return HostGlob{std::move(name), true, false};
}

policy::CacheRules aliasRules() {
  policy::CacheRules rules;
  rules.aliases.push_back(
      {{wild("steamcontent.com"), exact("steam.cdn.example")}, "steam", "a:1:1"});
  rules.aliases.push_back({{exact("special.steamcontent.com")}, "special", "a:2:1"});
  rules.aliases.push_back({{wild("dl.delivery.mp.microsoft.com")}, "windows", "a:3:1"});
  return rules;
}

std::string date(int64_t offset) {
  return policy::formatHttpDate(kT0 + offset);
}
constexpr int64_t kDay = 86400;
}  // namespace

TEST_CASE("globMatch: '*' is any run of bytes, anchored at both ends") {
  struct Case {
    const char* pattern;
    const char* text;
    bool expected;
  };
  const Case cases[] = {
      {"*", "", true},
      {"*", "/anything/at/all", true},
      {"/debian/pool/*", "/debian/pool/main/a/apt/apt_2.6.1_amd64.deb", true},
      {"/debian/pool/*", "/debian/pool/", true},
      {"/debian/pool/*", "/debian/dists/bookworm/Release", false},
      {"/debian/pool/*", "/x/debian/pool/a", false},
      {"*.deb", "/pool/a_1.0_amd64.deb", true},
      {"*.deb", "/pool/a_1.0_amd64.deb.sig", false},
      {"/a/*/c", "/a/b/x/c", true},
      {"/a/*/c", "/a/c", false},
      {"/exact", "/exact", true},
      {"/exact", "/exactly", false},
      {"**", "/x", true},
      {"/a*b*c", "/aXbYc", true},
      {"/a*b*c", "/aXbY", false},
  };
  for (const auto& tc : cases) {
    CAPTURE(tc.pattern);
    CAPTURE(tc.text);
    CHECK(policy::globMatch(tc.pattern, tc.text) == tc.expected);
  }
}

TEST_CASE("HostGlob: exact names and '*.name' (the name and its subdomains)") {
  CHECK(exact("deb.debian.org").matches("deb.debian.org"));
  CHECK_FALSE(exact("deb.debian.org").matches("x.deb.debian.org"));
  CHECK(wild("steamcontent.com").matches("steamcontent.com"));
  CHECK(wild("steamcontent.com").matches("cache1-fra1.steamcontent.com"));
  CHECK_FALSE(wild("steamcontent.com").matches("evilsteamcontent.com"));
  CHECK(HostGlob{"", false, true}.matches("anything.example"));
  CHECK(wild("a.b").text() == "*.a.b");
  CHECK(exact("a.b").text() == "a.b");
}

TEST_CASE("cache identities: aliased hosts share one primary key") {
  const policy::CacheRules rules = aliasRules();
  struct Case {
    const char* uri;
    const char* key;
  };
  const Case cases[] = {
      {"http://cache1.steamcontent.com/depot/1/chunk/ab",
       "http://steam.cache-alias.invalid/depot/1/chunk/ab"},
      {"http://cache9.steamcontent.com/depot/1/chunk/ab",
       "http://steam.cache-alias.invalid/depot/1/chunk/ab"},
      {"http://steam.cdn.example/depot/1/chunk/ab",
       "http://steam.cache-alias.invalid/depot/1/chunk/ab"},
      {"http://STEAMCONTENT.com/x?q=1", "http://steam.cache-alias.invalid/x?q=1"},
      // The port stays part of the key; the default one is dropped.
      {"http://a.steamcontent.com:8080/x", "http://steam.cache-alias.invalid:8080/x"},
      {"http://a.steamcontent.com:80/x", "http://steam.cache-alias.invalid/x"},
      // The more specific pattern wins over a wildcard of another alias.
      {"http://special.steamcontent.com/x", "http://special.cache-alias.invalid/x"},
      {"http://x.dl.delivery.mp.microsoft.com/f.cab", "http://windows.cache-alias.invalid/f.cab"},
      // Not aliased: the normalised URL, as before.
      {"http://example.org/x", "http://example.org/x"},
      {"http://steamcontent.com.evil.example/x", "http://steamcontent.com.evil.example/x"},
      {"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"},
  };
  for (const auto& tc : cases) {
    CAPTURE(tc.uri);
    const auto t = target(tc.uri);
    CHECK(rules.primaryKey(t) == tc.key);
    CHECK(policy::primaryKey(t, &rules) == tc.key);
  }
  // An aliased key is itself a URL whose normalised form is the key: purging
  // it by URL (Cache::purge) finds the object.
  CHECK(target("http://steam.cache-alias.invalid/depot/1/chunk/ab").normalizedUri() ==
        rules.primaryKey(target("http://cache1.steamcontent.com/depot/1/chunk/ab")));
  // No rules: exactly the old key.
  CHECK(policy::primaryKey(target("http://a.steamcontent.com/x"), nullptr) ==
        "http://a.steamcontent.com/x");
  CHECK(policy::CacheRules{}.primaryKey(target("http://a.steamcontent.com/x")) ==
        "http://a.steamcontent.com/x");
}

TEST_CASE("invalidation keys follow the cache identity") {
  const policy::CacheRules rules = aliasRules();
  http::RequestHead post = get();
  post.method = "POST";
  post.methodKind = http::Method::kPost;
  auto res = response(201, headers({{"Location", "/depot/2"}}));
  const auto keys =
      policy::invalidationKeys(post, target("http://a.steamcontent.com/depot/1"), res, &rules);
  CHECK(keys == std::vector<std::string>{"http://steam.cache-alias.invalid/depot/1",
                                         "http://steam.cache-alias.invalid/depot/2"});
}

TEST_CASE("refresh rules: the first rule matching host and path applies") {
  policy::CacheRules rules;
  rules.refresh.push_back(
      {{exact("deb.debian.org")}, "/debian/pool/*", {30 * kDay, 365 * kDay, 20}, "r:1:1"});
  rules.refresh.push_back({{wild("ubuntu.com")}, "*.deb", {kDay, 30 * kDay, 10}, "r:2:1"});
  rules.refresh.push_back({{}, "/static/*", {60, 3600, 0}, "r:3:1"});
  struct Case {
    const char* uri;
    const char* where;  // "" = no rule
  };
  const Case cases[] = {
      {"http://deb.debian.org/debian/pool/main/a/apt/apt.deb", "r:1:1"},
      {"http://deb.debian.org/debian/pool/main/a/apt/apt.deb?x=1", "r:1:1"},
      {"http://deb.debian.org/debian/dists/bookworm/InRelease", ""},
      {"http://security.debian.org/debian/pool/a.deb", ""},
      {"http://archive.ubuntu.com/ubuntu/pool/main/a.deb", "r:2:1"},
      {"http://archive.ubuntu.com/ubuntu/pool/main/a.dsc", ""},
      {"http://any.example/static/app.js", "r:3:1"},
  };
  for (const auto& tc : cases) {
    CAPTURE(tc.uri);
    const auto* rule = rules.refreshFor(target(tc.uri));
    if (*tc.where == '\0') {
      CHECK(rule == nullptr);
    } else {
      REQUIRE(rule != nullptr);
      CHECK(rule->where == tc.where);
    }
  }
}

TEST_CASE("refresh rule heuristic: only where RFC 9111 §4.2.2 allows one") {
  const policy::Heuristic rule{30 * kDay, 365 * kDay, 20};
  struct Case {
    const char* name;
    int status;
    http::HeaderMap h;
    int64_t lifetime;
  };
  const Case cases[] = {
      // Debian's mirror: no Cache-Control, Expires, Last-Modified, ETag.
      {"no validators at all: min", 200, headers({{"Date", date(0)}}), 30 * kDay},
      {"no Date either: min", 200, headers({}), 30 * kDay},
      {"Last-Modified 3000 days ago: 20 % capped at max", 200,
       headers({{"Date", date(0)}, {"Last-Modified", date(-3000 * kDay)}}), 365 * kDay},
      {"Last-Modified 500 days ago: 20 % = 100 days", 200,
       headers({{"Date", date(0)}, {"Last-Modified", date(-500 * kDay)}}), 100 * kDay},
      {"Last-Modified 10 days ago: 20 % raised to min", 200,
       headers({{"Date", date(0)}, {"Last-Modified", date(-10 * kDay)}}), 30 * kDay},
      {"Last-Modified in the future: min", 200,
       headers({{"Date", date(0)}, {"Last-Modified", date(kDay)}}), 30 * kDay},
      // Explicit freshness always wins over the rule.
      {"max-age wins", 200, headers({{"Cache-Control", "max-age=60"}}), 60},
      {"max-age=0 wins", 200, headers({{"Cache-Control", "max-age=0"}}), 0},
      {"s-maxage wins", 200, headers({{"Cache-Control", "s-maxage=7"}}), 7},
      {"Expires wins", 200, headers({{"Date", date(0)}, {"Expires", date(120)}}), 120},
      {"invalid Expires means expired", 200, headers({{"Expires", "0"}}), 0},
      // §4.2.2: no heuristic for statuses that are not heuristically cacheable.
      {"302: no heuristic", 302, headers({{"Date", date(0)}}), 0},
      {"500: no heuristic", 500, headers({{"Date", date(0)}}), 0},
      {"404: heuristically cacheable", 404, headers({{"Date", date(0)}}), 30 * kDay},
      {"302 public: allowed", 302, headers({{"Cache-Control", "public"}}), 30 * kDay},
  };
  policy::PolicyOptions options;
  options.refresh = rule;
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      CHECK(policy::freshnessLifetime(stored(tc.status, tc.h), options) == tc.lifetime);
    }
  }
}

TEST_CASE("refresh rule: fresh until the lifetime, never over no-store, private or no-cache") {
  policy::PolicyOptions options;
  options.refresh = policy::Heuristic{3600, 7200, 0};
  struct Case {
    const char* name;
    http::HeaderMap h;
    int64_t ageSeconds;
    Usability expected;
  };
  const Case cases[] = {
      {"no headers, young: fresh", headers({{"Date", date(0)}}), 10, Usability::kFresh},
      {"no headers, past min: revalidate", headers({{"Date", date(0)}}), 3601,
       Usability::kMustRevalidate},
      {"Date an hour and a bit old: revalidate", headers({{"Date", date(-3700)}}), 0,
       Usability::kMustRevalidate},
      {"no-cache never fresh", headers({{"Cache-Control", "no-cache"}}), 10,
       Usability::kMustRevalidate},
      {"no-store never used", headers({{"Cache-Control", "no-store"}}), 10,
       Usability::kMustRevalidate},
      {"private never used", headers({{"Cache-Control", "private"}}), 10,
       Usability::kMustRevalidate},
      {"max-age=5 wins", headers({{"Cache-Control", "max-age=5"}}), 10, Usability::kMustRevalidate},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      auto ev = policy::evaluate(get(), stored(200, tc.h), at(kT0 + tc.ageSeconds), options);
      CHECK(ev.usability == tc.expected);
    }
  }
  SUBCASE("without a rule a response with no validators is never fresh") {
    auto ev = policy::evaluate(get(), stored(200, headers({{"Date", date(0)}})), at(kT0 + 1), {});
    CHECK(ev.usability == Usability::kMustRevalidate);
  }
}
