#include <doctest/doctest.h>

#include <fstream>

#include "cache/cache_admin.h"
#include "cache/policy/freshness.h"
#include "tests/unit/cache/store_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;

TEST_CASE("store: write, commit, lookup") {
  TempDir dir;
  auto cache = openCache(options(dir.path()));
  const std::string key = "http://example.com/a";
  CHECK(cache->lookup(key, {}) == nullptr);

  auto w = cache->beginWrite(writeRequest(key, 11, headers({{"Cache-Control", "max-age=60"}, {"Connection", "close"},
                                                            {"Content-Type", "text/plain"}})));
  REQUIRE(w.ok());
  REQUIRE(w.value()->append("hello ").ok());
  // Not visible until complete (the "no half-written entry").
  CHECK(cache->lookup(key, {}) == nullptr);
  REQUIRE(w.value()->append("world").ok());
  auto committed = w.value()->commit();
  REQUIRE(committed.ok());

  auto e = cache->lookup(key, {});
  REQUIRE(e);
  CHECK(e->bodySize == 11);
  CHECK(e->response.status == 200);
  CHECK(e->response.headers.get("Content-Type") == "text/plain");
  CHECK_FALSE(e->response.headers.has("Connection"));
  CHECK(e->response.requestTime == at(kT0));
  CHECK(e->response.responseTime == at(kT0 + 1));
  CHECK(bodyOf(*cache, key) == "hello world");
  CHECK(cache->stats().objects == 1);
  CHECK(cache->stats().bytes == 11);
  CHECK(filesUnder(dir.path(), "tmp").empty());
  // The policy works on what lookup returns.
  CHECK(policy::evaluate(get(), e->response, at(kT0 + 10)).usability == policy::Usability::kFresh);
}

TEST_CASE("store: abort, destruction and bad lengths leave nothing") {
  TempDir dir;
  auto cache = openCache(options(dir.path()));
  const std::string key = "http://example.com/b";
  SUBCASE("explicit abort") {
    auto w = cache->beginWrite(writeRequest(key, 5));
    REQUIRE(w.ok());
    REQUIRE(w.value()->append("ab").ok());
    CHECK(filesUnder(dir.path(), "tmp").size() == 1);
    w.value()->abort();
    CHECK_FALSE(w.value()->append("c").ok());
    CHECK_FALSE(w.value()->commit().ok());
  }
  SUBCASE("writer destroyed without commit") {
    auto w = cache->beginWrite(writeRequest(key, 5));
    REQUIRE(w.ok());
    REQUIRE(w.value()->append("ab").ok());
  }
  SUBCASE("commit shorter than Content-Length") {
    auto w = cache->beginWrite(writeRequest(key, 5));
    REQUIRE(w.ok());
    REQUIRE(w.value()->append("abcd").ok());
    CHECK_FALSE(w.value()->commit().ok());
  }
  SUBCASE("append beyond Content-Length") {
    auto w = cache->beginWrite(writeRequest(key, 2));
    REQUIRE(w.ok());
    CHECK_FALSE(w.value()->append("abc").ok());
  }
  SUBCASE("beyond max_object_size while writing (unknown length)") {
    auto req = writeRequest(key, 0);
    req.expectedLength.reset();
    auto w = cache->beginWrite(std::move(req));
    REQUIRE(w.ok());
    REQUIRE(w.value()->append(std::string(1 << 19, 'x')).ok());
    REQUIRE(w.value()->append(std::string(1 << 19, 'x')).ok());
    CHECK_FALSE(w.value()->append("x").ok());
  }
  SUBCASE("Content-Length above max_object_size") {
    CHECK_FALSE(cache->beginWrite(writeRequest(key, (1 << 20) + 1)).ok());
  }
  cache->flush();
  CHECK(cache->lookup(key, {}) == nullptr);
  CHECK(filesUnder(dir.path(), "tmp").empty());
  CHECK(filesUnder(dir.path(), "objects").empty());
  CHECK(cache->stats().objects == 0);
  CHECK(cache->stats().writesInProgress == 0);
}

TEST_CASE("store: a new response replaces the stored one; old body removed") {
  TempDir dir;
  auto cache = openCache(options(dir.path()));
  const std::string key = "http://example.com/c";
  auto first = put(*cache, key, "one");
  auto second = put(*cache, key, "second");
  cache->flush();
  CHECK(bodyOf(*cache, key) == "second");
  CHECK(filesUnder(dir.path(), "objects").size() == 1);
  CHECK(cache->stats().bytes == 6);
  // A reader that looked up the old entry just misses.
  CHECK_FALSE(cache->openBody(*first).ok());
}

TEST_CASE("store: Vary variants") {
  TempDir dir;
  auto cache = openCache(options(dir.path()));
  const std::string key = "http://example.com/v";
  auto vary = headers({{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Encoding"}});
  put(*cache, key, "gz", vary, headers({{"Accept-Encoding", "gzip"}}));
  put(*cache, key, "br", vary, headers({{"Accept-Encoding", "br"}}));
  CHECK(bodyOf(*cache, key, headers({{"Accept-Encoding", "GZIP"}})) == "gz");
  CHECK(bodyOf(*cache, key, headers({{"Accept-Encoding", "br"}})) == "br");
  CHECK(bodyOf(*cache, key, headers({})) == "<miss>");
  auto star = cache->beginWrite(writeRequest(key, 1, headers({{"Vary", "*"}})));
  CHECK_FALSE(star.ok());
  SUBCASE("variants per key are bounded") {
    auto o = options(dir.path());
    cache.reset();
    o.maxVariantsPerKey = 2;
    cache = openCache(o);
    put(*cache, key, "id", vary, headers({{"Accept-Encoding", "identity"}}));
    CHECK(bodyOf(*cache, key, headers({{"Accept-Encoding", "gzip"}})) == "<miss>");
    CHECK(bodyOf(*cache, key, headers({{"Accept-Encoding", "br"}})) == "br");
    CHECK(bodyOf(*cache, key, headers({{"Accept-Encoding", "identity"}})) == "id");
  }
  SUBCASE("invalidate removes every variant") {
    CHECK(cache->invalidate(key) == 2);
    cache->flush();
    CHECK(bodyOf(*cache, key, headers({{"Accept-Encoding", "br"}})) == "<miss>");
    CHECK(filesUnder(dir.path(), "objects").empty());
  }
}

TEST_CASE("store: 304 refresh keeps the body and survives restart") {
  TempDir dir;
  const std::string key = "http://example.com/r";
  {
    auto cache = openCache(options(dir.path()));
    auto e = put(*cache, key, "body", headers({{"Cache-Control", "max-age=1"}, {"ETag", "\"x\""}}));
    auto nm = response(304, headers({{"Cache-Control", "max-age=600"}, {"ETag", "\"x\""}}));
    auto fresh = cache->updateHeaders(*e, get(), nm, at(kT0 + 100), at(kT0 + 101));
    REQUIRE(fresh);
    CHECK(fresh->response.headers.get("Cache-Control") == "max-age=600");
    CHECK(cache->lookup(key, {})->response.responseTime == at(kT0 + 101));
    // The old entry pointer is stale now: updating it again still works by id.
    CHECK(cache->updateHeaders(*e, get(), nm, at(kT0 + 200), at(kT0 + 201)));
    put(*cache, key, "new body");
    CHECK(cache->updateHeaders(*e, get(), nm, at(kT0 + 300), at(kT0 + 301)) == nullptr);
  }
  {
    auto cache = openCache(options(dir.path()));
    auto e = cache->lookup(key, {});
    REQUIRE(e);
    CHECK(bodyOf(*cache, key) == "new body");
  }
}

TEST_CASE("store: a 304 cannot make an entry unstorable or store a cookie (issue #12)") {
  auto head = [] {
    auto r = get();
    r.method = "HEAD";
    r.methodKind = http::Method::kHead;
    return r;
  };
  TempDir dir;
  const std::string key = "http://example.com/reval";
  auto cache = openCache(options(dir.path()));
  const auto base = headers({{"Cache-Control", "max-age=1"}, {"ETag", "\"v1\""}});
  struct Case {
    const char* name;
    http::RequestHead request;
    http::HeaderMap notModified;
    bool kept;
  };
  const Case cases[] = {
      {"plain refresh", get(), headers({{"Cache-Control", "max-age=300"}}), true},
      {"Set-Cookie is not stored", get(headers({{"Cookie", "session=ALICE"}})),
       headers({{"Cache-Control", "max-age=300"}, {"Set-Cookie", "session=ALICE"}}), true},
      {"private", get(), headers({{"Cache-Control", "private, max-age=300"}}), false},
      {"no-store", get(), headers({{"Cache-Control", "private, no-store"}}), false},
      {"Vary *", get(), headers({{"Vary", "*"}}), false},
      {"Vary changed", get(), headers({{"Vary", "Cookie"}}), false},
      {"request no-store", get(headers({{"Cache-Control", "no-store"}})), headers({}), false},
      {"Authorization, not shareable", get(headers({{"Authorization", "Basic eA=="}})),
       headers({{"Cache-Control", "max-age=300"}}), false},
      {"a HEAD revalidates the stored GET", head(), headers({{"Cache-Control", "max-age=300"}}),
       true},
      {"Authorization, public", get(headers({{"Authorization", "Basic eA=="}})),
       headers({{"Cache-Control", "public, max-age=300"}}), true},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      auto e = put(*cache, key, "body", base);
      auto nm = response(304, tc.notModified);
      nm.headers.add("ETag", "\"v1\"");
      auto fresh = cache->updateHeaders(*e, tc.request, nm, at(kT0 + 100), at(kT0 + 101));
      CHECK(static_cast<bool>(fresh) == tc.kept);
      cache->flush();
      if (tc.kept) {
        auto now = cache->lookup(key, {});
        REQUIRE(now);
        CHECK_FALSE(now->response.headers.has("Set-Cookie"));
        CHECK(bodyOf(*cache, key) == "body");
      } else {
        CHECK(cache->lookup(key, {}) == nullptr);
        CHECK(filesUnder(dir.path(), "objects").empty());
      }
    }
  }
}

TEST_CASE("store: purge and offline admin") {
  TempDir dir;
  {
    auto cache = openCache(options(dir.path()));
    put(*cache, "http://example.com/p", "12345");
    put(*cache, "http://example.com/q", "123");
    CHECK(cache->purge("http://EXAMPLE.com:80/q").value() == 1);
    CHECK_FALSE(cache->purge("not a uri").ok());
  }
  auto stats = offlineStats(dir.path());
  REQUIRE(stats.ok());
  CHECK(stats->objects == 1);
  CHECK(stats->bytes == 5);
  auto purged = offlinePurge(dir.path(), "http://example.com:80/p");
  REQUIRE(purged.ok());
  CHECK(purged.value() == 1);
  CHECK(offlinePurge(dir.path(), "http://example.com/none").value() == 0);
  CHECK(offlineStats(dir.path())->objects == 0);
  CHECK(filesUnder(dir.path(), "objects").empty());
  CHECK_FALSE(offlineStats(dir.path() + "/nonexistent").ok());
}

TEST_CASE("store: a damaged body is never served and is dropped") {
  TempDir dir;
  auto cache = openCache(options(dir.path()));
  const std::string key = "http://example.com/d";
  auto e = put(*cache, key, "full body");
  { std::ofstream(e->bodyPath, std::ios::trunc) << "half"; }
  CHECK_FALSE(cache->openBody(*e).ok());
  CHECK(cache->lookup(key, {}) == nullptr);
}

TEST_CASE("store: a response being written when its URL is invalidated is not stored (RFC 9111 §4.4)") {
  TempDir dir;
  auto cache = openCache(options(dir.path()));
  const std::string key = "http://example.com/posted";
  auto before = cache->beginWrite(writeRequest(key, 3));
  REQUIRE(before.ok());
  REQUIRE(before.value()->append("old").ok());
  CHECK(cache->invalidate(key) == 0);  // a POST went through meanwhile
  auto committed = before.value()->commit();
  CHECK_FALSE(committed.ok());
  CHECK(committed.error().kind == Error::Kind::kGeneric);  // not disk trouble
  CHECK(cache->lookup(key, {}) == nullptr);
  // A fetch that starts after the invalidation is stored as usual.
  put(*cache, key, "new");
  CHECK(bodyOf(*cache, key) == "new");
  cache->flush();
  CHECK(filesUnder(dir.path(), "objects").size() == 1);
}

TEST_CASE("store: storage failures are marked as such, refusals of the object are not") {
  TempDir dir;
  auto o = options(dir.path());
  o.maxObjectSize = 10;
  auto cache = openCache(o);
  auto tooBig = cache->beginWrite(writeRequest("http://example.com/big", 11));
  REQUIRE_FALSE(tooBig.ok());
  CHECK(tooBig.error().kind == Error::Kind::kGeneric);
  auto o2 = options(dir.path() + "/full");
  o2.minFreeDisk = 1 << 20;
  o2.freeSpaceProbe = [] { return std::optional<uint64_t>(0); };
  auto full = openCache(o2);
  auto refused = full->beginWrite(writeRequest("http://example.com/x", 1));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == Error::Kind::kStorage);
}
