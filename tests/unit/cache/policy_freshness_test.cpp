#include <doctest/doctest.h>

#include "cache/policy/freshness.h"
#include "cache/policy/http_date.h"
#include "tests/unit/cache/policy_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;
using policy::StoreVerdict;
using policy::Usability;

namespace {
std::string date(int64_t offset) { return policy::formatHttpDate(kT0 + offset); }
}  // namespace

TEST_CASE("storable per RFC 9111 §3") {
  struct Case {
    const char* name;
    http::RequestHead request;
    http::ResponseHead response;
    StoreVerdict expected;
  };
  auto post = get();
  post.method = "POST";
  post.methodKind = http::Method::kPost;
  auto head = get();
  head.methodKind = http::Method::kHead;
  const Case cases[] = {
      {"200 plain", get(), response(200), StoreVerdict::kStorable},
      {"404 heuristic", get(), response(404), StoreVerdict::kStorable},
      {"501 heuristic", get(), response(501), StoreVerdict::kStorable},
      {"302 without freshness", get(), response(302), StoreVerdict::kNoFreshnessInfo},
      {"302 with max-age", get(), response(302, headers({{"Cache-Control", "max-age=60"}})), StoreVerdict::kStorable},
      {"500 with Expires", get(), response(500, headers({{"Expires", kT0Date}})), StoreVerdict::kStorable},
      {"418 public", get(), response(418, headers({{"Cache-Control", "public"}})), StoreVerdict::kStorable},
      {"418 must-understand", get(), response(418, headers({{"Cache-Control", "max-age=5, must-understand"}})), StoreVerdict::kStatusNotCacheable},
      {"206 never", get(), response(206, headers({{"Cache-Control", "max-age=60"}})), StoreVerdict::kStatusNotCacheable},
      {"304 never", get(), response(304), StoreVerdict::kStatusNotCacheable},
      {"1xx never", get(), response(100), StoreVerdict::kStatusNotCacheable},
      {"POST", post, response(200, headers({{"Cache-Control", "max-age=60"}})), StoreVerdict::kMethodNotCacheable},
      {"HEAD", head, response(200), StoreVerdict::kMethodNotCacheable},
      {"response no-store", get(), response(200, headers({{"Cache-Control", "no-store"}})), StoreVerdict::kNoStore},
      {"request no-store", get(headers({{"Cache-Control", "no-store"}})), response(200), StoreVerdict::kNoStore},
      {"private", get(), response(200, headers({{"Cache-Control", "private, max-age=60"}})), StoreVerdict::kPrivate},
      {"no-cache is storable", get(), response(200, headers({{"Cache-Control", "no-cache"}})), StoreVerdict::kStorable},
      {"Authorization", get(headers({{"Authorization", "Basic eA=="}})), response(200, headers({{"Cache-Control", "max-age=60"}})), StoreVerdict::kAuthorization},
      {"Authorization + public", get(headers({{"Authorization", "Basic eA=="}})), response(200, headers({{"Cache-Control", "public"}})), StoreVerdict::kStorable},
      {"Authorization + s-maxage", get(headers({{"Authorization", "Basic eA=="}})), response(200, headers({{"Cache-Control", "s-maxage=5"}})), StoreVerdict::kStorable},
      {"Authorization + must-revalidate", get(headers({{"Authorization", "Basic eA=="}})), response(200, headers({{"Cache-Control", "must-revalidate"}})), StoreVerdict::kStorable},
      {"Vary *", get(), response(200, headers({{"Vary", "Accept, *"}})), StoreVerdict::kVaryStar},
      {"Set-Cookie", get(), response(200, headers({{"Set-Cookie", "a=b"}})), StoreVerdict::kSetCookie},
      {"Set-Cookie + public", get(), response(200, headers({{"Set-Cookie", "a=b"}, {"Cache-Control", "public"}})), StoreVerdict::kStorable},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) { CHECK(policy::checkStorable(tc.request, tc.response) == tc.expected); }
  }
}

TEST_CASE("freshness lifetime per RFC 9111 §4.2.1 and heuristic §4.2.2") {
  struct Case {
    const char* name;
    int status;
    http::HeaderMap h;
    int64_t expected;
  };
  const Case cases[] = {
      {"nothing", 200, headers({{"Date", kT0Date}}), 0},
      {"max-age", 200, headers({{"Cache-Control", "max-age=60"}}), 60},
      {"s-maxage wins over max-age", 200, headers({{"Cache-Control", "max-age=60, s-maxage=5"}}), 5},
      {"max-age wins over Expires", 200, headers({{"Cache-Control", "max-age=60"}, {"Date", kT0Date}, {"Expires", "Sun, 06 Nov 1994 09:49:37 GMT"}}), 60},
      {"Expires - Date", 200, headers({{"Date", kT0Date}, {"Expires", "Sun, 06 Nov 1994 09:49:37 GMT"}}), 3600},
      {"Expires in the past", 200, headers({{"Date", kT0Date}, {"Expires", "Sun, 06 Nov 1994 07:49:37 GMT"}}), 0},
      {"invalid Expires", 200, headers({{"Date", kT0Date}, {"Expires", "0"}, {"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}}), 0},
      {"heuristic 10%", 200, headers({{"Date", kT0Date}, {"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}}), 360},
      {"heuristic capped at 24h", 200, headers({{"Date", kT0Date}, {"Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT"}}), 86400},
      {"heuristic not for 302", 302, headers({{"Date", kT0Date}, {"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}}), 0},
      {"heuristic for public 302", 302, headers({{"Cache-Control", "public"}, {"Date", kT0Date}, {"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}}), 360},
      {"Last-Modified in the future", 200, headers({{"Date", kT0Date}, {"Last-Modified", "Sun, 06 Nov 1994 09:49:37 GMT"}}), 0},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      CHECK(policy::freshnessLifetime(stored(tc.status, tc.h)) == tc.expected);
    }
  }
  SUBCASE("heuristic without Date uses the response time") {
    auto s = stored(200, headers({{"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}}));
    CHECK(policy::freshnessLifetime(s) == 360);
    CHECK(policy::usesHeuristicFreshness(s));
  }
  SUBCASE("heuristic cap is an option") {
    policy::PolicyOptions o;
    o.heuristicMaxSeconds = 100;
    CHECK(policy::freshnessLifetime(stored(200, headers({{"Date", kT0Date}, {"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}})), o) == 100);
  }
}

TEST_CASE("current age per RFC 9111 §4.2.3") {
  struct Case {
    const char* name;
    http::HeaderMap h;
    int64_t requestTime, responseTime, now, expected;
  };
  const Case cases[] = {
      {"just received", headers({{"Date", kT0Date}}), kT0, kT0, kT0, 0},
      {"resident time", headers({{"Date", kT0Date}}), kT0, kT0, kT0 + 100, 100},
      {"Age from upstream plus response delay", headers({{"Date", kT0Date}, {"Age", "30"}}), kT0, kT0 + 2, kT0 + 2, 32},
      {"apparent age from a Date in the past", headers({{"Date", date(-50)}}), kT0, kT0, kT0 + 10, 60},
      {"Date in the future gives no negative age", headers({{"Date", date(+500)}}), kT0, kT0, kT0 + 1, 1},
      {"invalid Age ignored", headers({{"Date", kT0Date}, {"Age", "x"}}), kT0, kT0, kT0 + 5, 5},
      {"Age list: the first member counts", headers({{"Date", kT0Date}, {"Age", "7200, 0"}}), kT0, kT0, kT0, 7200},
      {"Age list: first member 0", headers({{"Date", kT0Date}, {"Age", "0 , 7200"}}), kT0, kT0, kT0, 0},
      {"Age list: invalid first member ignored", headers({{"Date", kT0Date}, {"Age", "x, 7200"}}), kT0, kT0, kT0, 0},
      {"no Date", headers({}), kT0, kT0, kT0 + 7, 7},
      {"corrected age wins over apparent", headers({{"Date", date(-5)}, {"Age", "100"}}), kT0 - 1, kT0, kT0, 101},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      CHECK(policy::currentAge(stored(200, tc.h, tc.requestTime, tc.responseTime), at(tc.now)) == tc.expected);
    }
  }
}

TEST_CASE("evaluate: freshness, request directives, RFC 5861") {
  struct Case {
    const char* name;
    const char* requestCc;  // nullptr: no Cache-Control
    const char* responseCc;
    int64_t ageAtNow;  // seconds since response
    Usability expected;
    bool background = false;
    bool staleOnError = false;
  };
  const Case cases[] = {
      {"fresh", nullptr, "max-age=60", 10, Usability::kFresh},
      {"exactly at lifetime is stale", nullptr, "max-age=60", 60, Usability::kMustRevalidate},
      {"stale", nullptr, "max-age=60", 100, Usability::kMustRevalidate},
      {"response no-cache", nullptr, "no-cache, max-age=60", 0, Usability::kMustRevalidate},
      {"request no-cache", "no-cache", "max-age=60", 0, Usability::kMustRevalidate},
      {"request max-age exceeded", "max-age=5", "max-age=60", 10, Usability::kMustRevalidate},
      {"request max-age met", "max-age=10", "max-age=60", 10, Usability::kFresh},
      {"request min-fresh met", "min-fresh=20", "max-age=60", 10, Usability::kFresh},
      {"request min-fresh not met", "min-fresh=60", "max-age=60", 10, Usability::kMustRevalidate},
      {"max-stale any", "max-stale", "max-age=60", 1000, Usability::kStaleServable},
      {"max-stale bounded ok", "max-stale=50", "max-age=60", 100, Usability::kStaleServable},
      {"max-stale bounded exceeded", "max-stale=30", "max-age=60", 100, Usability::kMustRevalidate},
      {"max-stale vs must-revalidate", "max-stale", "max-age=60, must-revalidate", 100, Usability::kMustRevalidate},
      {"max-stale vs s-maxage", "max-stale", "s-maxage=60", 100, Usability::kMustRevalidate},
      {"max-stale vs proxy-revalidate", "max-stale", "max-age=60, proxy-revalidate", 100, Usability::kMustRevalidate},
      {"swr within window", nullptr, "max-age=60, stale-while-revalidate=60", 100, Usability::kStaleServable, true},
      {"swr past window", nullptr, "max-age=60, stale-while-revalidate=30", 100, Usability::kMustRevalidate},
      {"sie within window", nullptr, "max-age=60, stale-if-error=60", 100, Usability::kMustRevalidate, false, true},
      {"sie past window", nullptr, "max-age=60, stale-if-error=10", 100, Usability::kMustRevalidate, false, false},
      {"request sie", "stale-if-error=100", "max-age=60", 100, Usability::kMustRevalidate, false, true},
      {"sie vs must-revalidate", nullptr, "max-age=60, stale-if-error=600, must-revalidate", 100, Usability::kMustRevalidate, false, false},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      auto req = tc.requestCc ? get(headers({{"Cache-Control", tc.requestCc}})) : get();
      auto s = stored(200, headers({{"Date", kT0Date}, {"Cache-Control", tc.responseCc}}));
      auto ev = policy::evaluate(req, s, at(kT0 + tc.ageAtNow));
      CHECK(ev.usability == tc.expected);
      CHECK(ev.age == tc.ageAtNow);
      CHECK(ev.revalidateInBackground == tc.background);
      CHECK(ev.staleOnErrorAllowed == tc.staleOnError);
    }
  }
  SUBCASE("Pragma: no-cache from an HTTP/1.0 client") {
    auto req = get(headers({{"Pragma", "no-cache"}}));
    req.versionMinor = 0;
    auto s = stored(200, headers({{"Date", kT0Date}, {"Cache-Control", "max-age=60"}}));
    CHECK(policy::evaluate(req, s, at(kT0)).usability == Usability::kMustRevalidate);
  }
  SUBCASE("only-if-cached is reported") {
    auto req = get(headers({{"Cache-Control", "only-if-cached"}}));
    auto s = stored(200, headers({{"Date", kT0Date}, {"Cache-Control", "max-age=60"}}));
    auto ev = policy::evaluate(req, s, at(kT0 + 100));
    CHECK(ev.onlyIfCached);
    CHECK(ev.usability == Usability::kMustRevalidate);
  }
  SUBCASE("serve stale on origin error is a config option, overridden by must-revalidate") {
    policy::PolicyOptions o;
    o.serveStaleOnOriginError = true;
    auto s = stored(200, headers({{"Date", kT0Date}, {"Cache-Control", "max-age=60"}}));
    CHECK(policy::evaluate(get(), s, at(kT0 + 1000), o).staleOnErrorAllowed);
    auto mr = stored(200, headers({{"Date", kT0Date}, {"Cache-Control", "max-age=60, must-revalidate"}}));
    CHECK_FALSE(policy::evaluate(get(), mr, at(kT0 + 1000), o).staleOnErrorAllowed);
  }
  SUBCASE("heuristic freshness is used") {
    auto s = stored(200, headers({{"Date", kT0Date}, {"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}}));
    CHECK(policy::evaluate(get(), s, at(kT0 + 300)).usability == Usability::kFresh);
    CHECK(policy::evaluate(get(), s, at(kT0 + 400)).usability == Usability::kMustRevalidate);
  }
}

TEST_CASE("evaluate: a stored head that is no longer storable is never used (issue #12)") {
  // Heads like these reach the store only through a 304 merged by an older
  // version; even fresh, with every stale allowance, they go to the origin.
  const std::pair<const char*, http::HeaderMap> cases[] = {
      {"private", headers({{"Cache-Control", "private, max-age=300, stale-while-revalidate=600"}})},
      {"no-store", headers({{"Cache-Control", "no-store, max-age=300, stale-if-error=600"}})},
      {"Set-Cookie without public",
       headers({{"Cache-Control", "max-age=300"}, {"Set-Cookie", "session=ALICE"}})},
      {"Vary *", headers({{"Cache-Control", "max-age=300"}, {"Vary", "*"}})},
  };
  policy::PolicyOptions o;
  o.serveStaleOnOriginError = true;
  for (const auto& [name, h] : cases) {
    SUBCASE(name) {
      auto s = stored(200, h);
      for (int64_t age : {0, 1000}) {
        auto ev =
            policy::evaluate(get(headers({{"Cache-Control", "max-stale"}})), s, at(kT0 + age), o);
        CHECK(ev.usability == Usability::kMustRevalidate);
        CHECK_FALSE(ev.revalidateInBackground);
        CHECK_FALSE(ev.staleOnErrorAllowed);
      }
    }
  }
  SUBCASE("a public response with Set-Cookie stays usable") {
    auto s =
        stored(200, headers({{"Cache-Control", "public, max-age=300"}, {"Set-Cookie", "a=b"}}));
    CHECK(policy::evaluate(get(), s, at(kT0 + 10)).usability == Usability::kFresh);
  }
}
