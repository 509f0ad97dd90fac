#include <doctest/doctest.h>

#include "cache/policy/range.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"
#include "tests/unit/cache/policy_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;
using policy::ClientConditional;
using Kind = policy::RangeSpec::Kind;

TEST_CASE("Vary: names and secondary keys (RFC 9111 §4.1)") {
  auto names = policy::varyFieldNames(headers({{"Vary", "Accept-Encoding, User-Agent"}, {"vary", "accept-encoding"}}));
  REQUIRE(names == std::vector<std::string>{"accept-encoding", "user-agent"});
  CHECK(policy::varyFieldNames(headers({})).empty());
  CHECK(policy::splitVaryNames(policy::joinVaryNames(names)) == names);

  struct Case {
    const char* name;
    http::HeaderMap a, b;
    bool same;
  };
  const std::vector<std::string> ae{"accept-encoding"};
  const Case cases[] = {
      {"identical", headers({{"Accept-Encoding", "gzip"}}), headers({{"Accept-Encoding", "gzip"}}), true},
      {"case of token values", headers({{"Accept-Encoding", "GZIP"}}), headers({{"accept-encoding", "gzip"}}), true},
      {"whitespace", headers({{"Accept-Encoding", "gzip,  br"}}), headers({{"Accept-Encoding", "gzip, br"}}), true},
      {"combined lines", headers({{"Accept-Encoding", "gzip"}, {"Accept-Encoding", "br"}}), headers({{"Accept-Encoding", "gzip, br"}}), true},
      {"different", headers({{"Accept-Encoding", "gzip"}}), headers({{"Accept-Encoding", "br"}}), false},
      {"absent vs empty", headers({}), headers({{"Accept-Encoding", ""}}), false},
      {"absent vs absent", headers({{"Other", "x"}}), headers({}), true},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      CHECK((policy::secondaryKey(ae, tc.a) == policy::secondaryKey(ae, tc.b)) == tc.same);
    }
  }
  SUBCASE("values of other fields keep their case") {
    const std::vector<std::string> ua{"user-agent"};
    CHECK(policy::secondaryKey(ua, headers({{"User-Agent", "A"}})) !=
          policy::secondaryKey(ua, headers({{"User-Agent", "a"}})));
  }
}

TEST_CASE("revalidation request headers (RFC 9111 §4.3.1)") {
  auto s = stored(200, headers({{"ETag", "\"v1\""}, {"Last-Modified", kT0Date}}));
  auto req = headers({{"If-None-Match", "\"client\""}, {"If-Range", "\"x\""}, {"Host", "a"}});
  CHECK(policy::addRevalidationHeaders(req, s));
  CHECK(req.get("If-None-Match") == "\"v1\"");
  CHECK(req.get("If-Modified-Since") == kT0Date);
  CHECK_FALSE(req.has("If-Range"));
  CHECK(req.has("Host"));
  auto bare = headers({});
  CHECK_FALSE(policy::addRevalidationHeaders(bare, stored(200, headers({{"Date", kT0Date}}))));
  CHECK(bare.empty());
}

TEST_CASE("304 refreshes stored headers (RFC 9111 §3.2, §4.3.4)") {
  auto s = stored(200, headers({{"ETag", "\"v1\""}, {"Cache-Control", "max-age=10"}, {"Content-Length", "5"},
                                {"X-Old", "keep"}, {"Age", "50"}, {"Content-Encoding", "gzip"},
                                {"Content-MD5", "old"}}));
  auto nm = response(304, headers({{"ETag", "\"v1\""}, {"Cache-Control", "max-age=99"}, {"Content-Length", "0"},
                                   {"Connection", "close, X-Hop"}, {"X-Hop", "1"}, {"Date", kT0Date},
                                   {"Content-Encoding", "br"}, {"Content-MD5", "new"},
                                   {"Content-Range", "bytes 0-1/5"}}));
  REQUIRE(policy::notModifiedMatches(s, nm));
  auto merged = policy::mergeNotModified(s, nm, at(kT0 + 1), at(kT0 + 2));
  CHECK(merged.headers.get("Cache-Control") == "max-age=99");
  CHECK(merged.headers.getAll("Cache-Control").size() == 1);
  CHECK(merged.headers.get("Content-Length") == "5");
  // The stored bytes are what these describe; a 304 cannot change them.
  CHECK(merged.headers.get("Content-Encoding") == "gzip");
  CHECK(merged.headers.get("Content-MD5") == "old");
  CHECK_FALSE(merged.headers.has("Content-Range"));
  CHECK(merged.headers.get("X-Old") == "keep");
  CHECK_FALSE(merged.headers.has("X-Hop"));
  CHECK_FALSE(merged.headers.has("Connection"));
  CHECK_FALSE(merged.headers.has("Age"));
  CHECK(merged.headers.get("Date") == kT0Date);
  CHECK(merged.responseTime == at(kT0 + 2));
  CHECK(merged.requestTime == at(kT0 + 1));

  SUBCASE("selection: validators must agree") {
    CHECK_FALSE(policy::notModifiedMatches(s, response(304, headers({{"ETag", "\"v2\""}}))));
    CHECK(policy::notModifiedMatches(s, response(304, headers({{"ETag", "W/\"v1\""}}))));
    CHECK(policy::notModifiedMatches(s, response(304)));
    auto lm = stored(200, headers({{"Last-Modified", kT0Date}}));
    CHECK_FALSE(policy::notModifiedMatches(lm, response(304, headers({{"Last-Modified", "Sun, 06 Nov 1994 08:49:38 GMT"}}))));
    CHECK_FALSE(policy::notModifiedMatches(lm, response(304, headers({{"ETag", "\"new\""}}))));
  }
}

TEST_CASE("a 304's Set-Cookie goes to its client only (issue #12)") {
  auto s = stored(200, headers({{"ETag", "\"v1\""}, {"Cache-Control", "max-age=1"}}));
  auto nm = response(304, headers({{"ETag", "\"v1\""},
                                   {"Cache-Control", "max-age=300"},
                                   {"Set-Cookie", "session=ALICE"},
                                   {"set-cookie2", "old=1"},
                                   {"Set-Cookie", "theme=dark"}}));
  SUBCASE("never merged into the stored head") {
    auto merged = policy::mergeNotModified(s, nm, at(kT0 + 1), at(kT0 + 2));
    CHECK(merged.headers.get("Cache-Control") == "max-age=300");
    CHECK_FALSE(merged.headers.has("Set-Cookie"));
    CHECK_FALSE(merged.headers.has("Set-Cookie2"));
  }
  SUBCASE("a stored (public) Set-Cookie is not replaced in the stored head") {
    auto pub = stored(
        200,
        headers({{"ETag", "\"v1\""}, {"Cache-Control", "public"}, {"Set-Cookie", "shared=1"}}));
    auto merged = policy::mergeNotModified(pub, nm, at(kT0 + 1), at(kT0 + 2));
    CHECK(merged.headers.getAll("Set-Cookie") == std::vector<std::string_view>{"shared=1"});
  }
  SUBCASE("the validating client gets them, replacing stored ones") {
    auto pub = stored(200, headers({{"ETag", "\"v1\""}, {"Set-Cookie", "shared=1"}}));
    auto mine = policy::mergeForClient(pub, nm, at(kT0 + 1), at(kT0 + 2));
    CHECK(mine.headers.getAll("Set-Cookie") ==
          std::vector<std::string_view>{"session=ALICE", "theme=dark"});
    CHECK(mine.headers.get("Set-Cookie2") == "old=1");
    CHECK(mine.headers.get("Cache-Control") == "max-age=300");
    CHECK(mine.responseTime == at(kT0 + 2));
  }
  SUBCASE("a 304 without cookies leaves the stored ones for the client") {
    auto pub = stored(200, headers({{"ETag", "\"v1\""}, {"Set-Cookie", "shared=1"}}));
    auto mine =
        policy::mergeForClient(pub, response(304, headers({{"ETag", "\"v1\""}})), at(kT0), at(kT0));
    CHECK(mine.headers.get("Set-Cookie") == "shared=1");
  }
  SUBCASE("client-only fields") {
    CHECK(policy::isClientOnlyField("set-COOKIE"));
    CHECK(policy::isClientOnlyField("Set-Cookie2"));
    CHECK_FALSE(policy::isClientOnlyField("Cookie"));
    CHECK_FALSE(policy::isClientOnlyField("Cache-Control"));
  }
}

TEST_CASE("client conditional requests answered from cache (RFC 9111 §4.3.2)") {
  auto s = stored(200, headers({{"ETag", "W/\"v1\""}, {"Last-Modified", "Sun, 06 Nov 1994 07:49:37 GMT"}, {"Date", kT0Date}}));
  struct Case {
    const char* name;
    http::HeaderMap h;
    ClientConditional expected;
  };
  const Case cases[] = {
      {"none", headers({}), ClientConditional::kNone},
      {"INM weak match", headers({{"If-None-Match", "\"v1\""}}), ClientConditional::kNotModified},
      {"INM in list", headers({{"If-None-Match", "\"a\", W/\"v1\""}}), ClientConditional::kNotModified},
      {"INM star", headers({{"If-None-Match", "*"}}), ClientConditional::kNotModified},
      {"INM no match", headers({{"If-None-Match", "\"v2\""}}), ClientConditional::kNone},
      {"INM wins over IMS", headers({{"If-None-Match", "\"v2\""}, {"If-Modified-Since", kT0Date}}), ClientConditional::kNone},
      {"IMS later", headers({{"If-Modified-Since", kT0Date}}), ClientConditional::kNotModified},
      {"IMS equal", headers({{"If-Modified-Since", "Sun, 06 Nov 1994 07:49:37 GMT"}}), ClientConditional::kNotModified},
      {"IMS earlier", headers({{"If-Modified-Since", "Sun, 06 Nov 1994 06:49:37 GMT"}}), ClientConditional::kNone},
      {"IMS invalid", headers({{"If-Modified-Since", "yesterday"}}), ClientConditional::kNone},
      {"If-Match weak tag fails strong comparison", headers({{"If-Match", "W/\"v1\""}}), ClientConditional::kPreconditionFailed},
      {"If-Match star", headers({{"If-Match", "*"}}), ClientConditional::kNone},
      {"IUS earlier", headers({{"If-Unmodified-Since", "Sun, 06 Nov 1994 06:49:37 GMT"}}), ClientConditional::kPreconditionFailed},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) { CHECK(policy::evaluateClientConditional(get(tc.h), s) == tc.expected); }
  }
  SUBCASE("304 head carries the RFC 9110 §15.4.5 fields and Age") {
    auto full = stored(200, headers({{"ETag", "\"v1\""}, {"Content-Type", "text/plain"}, {"Cache-Control", "max-age=5"},
                                     {"Vary", "Accept"}, {"Content-Length", "3"}}));
    auto nm = policy::buildNotModified(full, 7);
    CHECK(nm.status == 304);
    CHECK(nm.headers.get("ETag") == "\"v1\"");
    CHECK(nm.headers.get("Vary") == "Accept");
    CHECK(nm.headers.get("Cache-Control") == "max-age=5");
    CHECK(nm.headers.get("Age") == "7");
    CHECK_FALSE(nm.headers.has("Content-Length"));
    CHECK_FALSE(nm.headers.has("Content-Type"));
  }
}

TEST_CASE("storage drops hop-by-hop fields (RFC 9111 §3.1)") {
  auto h = policy::headersForStorage(headers({{"Connection", "X-A"}, {"X-A", "1"}, {"Keep-Alive", "t=5"},
                                              {"Transfer-Encoding", "chunked"}, {"Content-Type", "a/b"},
                                              {"Proxy-Authenticate", "Basic"}}));
  CHECK(h.size() == 1);
  CHECK(h.get("Content-Type") == "a/b");
}

TEST_CASE("Range on a stored full response (RFC 9110 §14)") {
  struct Case {
    const char* value;
    Kind kind;
    uint64_t first, last;
  };
  const Case cases[] = {
      {"bytes=0-9", Kind::kSatisfiable, 0, 9},
      {"bytes=10-", Kind::kSatisfiable, 10, 99},
      {"bytes=-10", Kind::kSatisfiable, 90, 99},
      {"bytes=-1000", Kind::kSatisfiable, 0, 99},
      {"bytes=50-1000", Kind::kSatisfiable, 50, 99},
      {"BYTES= 1-2 ", Kind::kSatisfiable, 1, 2},
      {"bytes=100-", Kind::kUnsatisfiable, 0, 0},
      {"bytes=-0", Kind::kUnsatisfiable, 0, 0},
      {"bytes=5-1", Kind::kNone, 0, 0},
      {"bytes=0-1,5-6", Kind::kNone, 0, 0},
      {"items=0-1", Kind::kNone, 0, 0},
      {"bytes=a-b", Kind::kNone, 0, 0},
      {"bytes=", Kind::kNone, 0, 0},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.value) {
      auto r = policy::parseRange(tc.value, 100);
      CHECK(r.kind == tc.kind);
      if (tc.kind == Kind::kSatisfiable) {
        CHECK(r.first == tc.first);
        CHECK(r.last == tc.last);
      }
    }
  }
  CHECK(policy::contentRangeValue(policy::parseRange("bytes=0-9", 100), 100) == "bytes 0-9/100");
  CHECK(policy::contentRangeValue(policy::parseRange("bytes=200-", 100), 100) == "bytes */100");

  SUBCASE("If-Range") {
    auto s = stored(200, headers({{"ETag", "\"v1\""}, {"Last-Modified", kT0Date}}));
    CHECK(policy::rangeForRequest(get(headers({{"Range", "bytes=0-1"}, {"If-Range", "\"v1\""}})), s, 10).kind == Kind::kSatisfiable);
    CHECK(policy::rangeForRequest(get(headers({{"Range", "bytes=0-1"}, {"If-Range", "\"v2\""}})), s, 10).kind == Kind::kNone);
    CHECK(policy::rangeForRequest(get(headers({{"Range", "bytes=0-1"}, {"If-Range", "W/\"v1\""}})), s, 10).kind == Kind::kNone);
    CHECK(policy::rangeForRequest(get(headers({{"Range", "bytes=0-1"}, {"If-Range", kT0Date}})), s, 10).kind == Kind::kSatisfiable);
    CHECK(policy::rangeForRequest(get(headers({{"Range", "bytes=0-1"}, {"If-Range", "Sun, 06 Nov 1994 08:49:38 GMT"}})), s, 10).kind == Kind::kNone);
    CHECK(policy::rangeForRequest(get(headers({{"Range", "bytes=0-1"}})), stored(404, headers({})), 10).kind == Kind::kNone);
  }
}

TEST_CASE("Range miss: fetch the whole object only when the range starts within the limit") {
  CHECK(policy::fetchWholeForRange(get(headers({{"Range", "bytes=0-9"}})), 1000));
  CHECK(policy::fetchWholeForRange(get(headers({{"Range", "bytes=999-"}})), 1000));
  CHECK(policy::fetchWholeForRange(get(headers({{"Range", "bytes=-10"}})), 1000));
  CHECK_FALSE(policy::fetchWholeForRange(get(headers({{"Range", "bytes=1000-"}})), 1000));
  CHECK_FALSE(policy::fetchWholeForRange(get(headers({{"Range", "bytes=0-1,5-6"}})), 1000));
  CHECK_FALSE(policy::fetchWholeForRange(get(headers({{"Range", "items=0-1"}})), 1000));
  CHECK_FALSE(policy::fetchWholeForRange(get(), 1000));
  CHECK_FALSE(policy::fetchWholeForRange(get(headers({{"Range", "bytes=0-9"}})), 0));  // off
  auto head = get(headers({{"Range", "bytes=0-9"}}));
  head.methodKind = http::Method::kHead;
  CHECK_FALSE(policy::fetchWholeForRange(head, 1000));
}
