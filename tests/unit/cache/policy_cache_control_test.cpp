#include <doctest/doctest.h>

#include "cache/policy/cache_control.h"
#include "cache/policy/http_date.h"
#include "tests/unit/cache/policy_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;

TEST_CASE("parseCacheControl: directives, values and malformed members") {
  struct Case {
    const char* value;
    void (*check)(const policy::CacheControl&);
  };
  const Case cases[] = {
      {"max-age=60", [](const policy::CacheControl& c) { CHECK(c.maxAge == 60); }},
      {"MAX-AGE=60, Public", [](const policy::CacheControl& c) { CHECK(c.maxAge == 60); CHECK(c.isPublic); }},
      {"max-age=\"60\"", [](const policy::CacheControl& c) { CHECK(c.maxAge == 60); }},
      {"max-age=abc", [](const policy::CacheControl& c) { CHECK(c.maxAge == 0); }},
      {"max-age", [](const policy::CacheControl& c) { CHECK(c.maxAge == 0); }},
      {"max-age=10, max-age=20", [](const policy::CacheControl& c) { CHECK(c.maxAge == 0); }},
      {"max-age=99999999999999", [](const policy::CacheControl& c) { CHECK(c.maxAge == policy::kDeltaSecondsMax); }},
      {"s-maxage=5,no-store", [](const policy::CacheControl& c) { CHECK(c.sMaxAge == 5); CHECK(c.noStore); }},
      {"no-cache=\"Set-Cookie, X\", private=\"a\"", [](const policy::CacheControl& c) { CHECK(c.noCache); CHECK(c.isPrivate); CHECK_FALSE(c.maxAge); }},
      {"max-stale", [](const policy::CacheControl& c) { CHECK(c.maxStale); CHECK_FALSE(c.maxStaleValue); }},
      {"max-stale=30, min-fresh=5, only-if-cached", [](const policy::CacheControl& c) { CHECK(c.maxStaleValue == 30); CHECK(c.minFresh == 5); CHECK(c.onlyIfCached); }},
      {"must-revalidate, proxy-revalidate, immutable, must-understand", [](const policy::CacheControl& c) { CHECK(c.mustRevalidate); CHECK(c.proxyRevalidate); CHECK(c.immutable); CHECK(c.mustUnderstand); }},
      {"stale-while-revalidate=30, stale-if-error=600", [](const policy::CacheControl& c) { CHECK(c.staleWhileRevalidate == 30); CHECK(c.staleIfError == 600); }},
      {" , ,, foo=bar, =x, max-age = 7", [](const policy::CacheControl& c) { CHECK(c.maxAge == 7); }},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.value) {
      auto cc = policy::parseCacheControl(headers({{"Cache-Control", tc.value}}));
      CHECK_FALSE(cc.absent);
      tc.check(cc);
    }
  }
}

TEST_CASE("parseCacheControl: several field lines combine; absence is recorded") {
  auto cc = policy::parseCacheControl(headers({{"cache-control", "public"}, {"Cache-Control", "max-age=3"}}));
  CHECK(cc.isPublic);
  CHECK(cc.maxAge == 3);
  CHECK(policy::parseCacheControl(headers({{"Pragma", "no-cache"}})).absent);
}

TEST_CASE("Pragma: no-cache counts only without Cache-Control (RFC 9111 §5.4)") {
  auto h1 = headers({{"Pragma", "no-cache"}});
  CHECK(policy::requestWantsNoCache(h1, policy::parseCacheControl(h1)));
  auto h2 = headers({{"Pragma", "no-cache"}, {"Cache-Control", "max-age=5"}});
  CHECK_FALSE(policy::requestWantsNoCache(h2, policy::parseCacheControl(h2)));
  auto h3 = headers({{"Cache-Control", "no-cache"}});
  CHECK(policy::requestWantsNoCache(h3, policy::parseCacheControl(h3)));
}

TEST_CASE("HTTP-date: the three forms of RFC 9110 §5.6.7 and formatting") {
  CHECK(policy::parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == kT0);
  CHECK(policy::parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") == kT0);
  CHECK(policy::parseHttpDate("Sun Nov  6 08:49:37 1994") == kT0);
  CHECK(policy::parseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(policy::parseHttpDate("Sat, 29 Feb 2020 12:00:00 GMT") == 1582977600);
  for (const char* bad : {"", "0", "-1", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT"}) {
    CAPTURE(bad);
    CHECK_FALSE(policy::parseHttpDate(bad));
  }
  CHECK(policy::formatHttpDate(kT0) == kT0Date);
  CHECK(policy::formatHttpDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(policy::formatHttpDate(1582977600) == "Sat, 29 Feb 2020 12:00:00 GMT");
}
