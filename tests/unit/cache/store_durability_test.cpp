#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/resource.h>

#include <csignal>
#include <fstream>

#include "cache/store/body_store.h"
#include "tests/unit/cache/store_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;

TEST_CASE("restart: a new Cache on the same directory keeps entries") {
  TempDir dir;
  const auto vary = headers({{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Language"}, {"ETag", "\"e\""}});
  {
    auto cache = openCache(options(dir.path()));
    for (int i = 0; i < 50; ++i) put(*cache, "http://example.com/" + std::to_string(i), "body" + std::to_string(i));
    put(*cache, "http://example.com/v", "fr", vary, headers({{"Accept-Language", "fr"}}));
  }
  auto cache = openCache(options(dir.path()));
  CHECK(cache->stats().objects == 51);
  for (int i = 0; i < 50; ++i) CHECK(bodyOf(*cache, "http://example.com/" + std::to_string(i)) == "body" + std::to_string(i));
  auto e = cache->lookup("http://example.com/v", headers({{"Accept-Language", "fr"}}));
  REQUIRE(e);
  CHECK(e->response.headers.get("ETag") == "\"e\"");
  CHECK(e->response.requestTime == at(kT0));
  CHECK(cache->lookup("http://example.com/v", headers({{"Accept-Language", "de"}})) == nullptr);
  // New ids never collide with the old ones.
  auto n = put(*cache, "http://example.com/new", "x");
  CHECK(n->id > e->id);
}

TEST_CASE("reconcile: orphans both ways and crash leftovers") {
  TempDir dir;
  std::string keptPath;
  std::string removedPath;
  {
    auto cache = openCache(options(dir.path()));
    keptPath = put(*cache, "http://example.com/kept", "kept")->bodyPath;
    removedPath = put(*cache, "http://example.com/gone", "gone")->bodyPath;
  }
  // A body whose row never reached the index (crash between rename and the
  // batched index write), a file that is not ours, a body file deleted
  // behind the cache's back, and a temporary file never renamed.
  const std::string orphan = dir.path() + "/" + BodyStore::relativeBodyPath(0xabcdef, 999);
  { std::ofstream(orphan) << "orphan"; }
  { std::ofstream(dir.path() + "/objects/00/junk") << "junk"; }
  REQUIRE(::unlink(removedPath.c_str()) == 0);
  { std::ofstream(dir.path() + "/tmp/0000000000000007.part") << "partial"; }

  auto cache = openCache(options(dir.path()));
  cache->flush();
  CHECK(bodyOf(*cache, "http://example.com/kept") == "kept");
  CHECK(bodyOf(*cache, "http://example.com/gone") == "<miss>");
  CHECK(cache->stats().objects == 1);
  CHECK(filesUnder(dir.path(), "objects") == std::vector<std::string>{
            std::filesystem::path(keptPath).lexically_relative(dir.path()).string()});
  CHECK(filesUnder(dir.path(), "tmp").empty());
  CHECK(!std::filesystem::exists(dir.path() + "/tmp/0000000000000007.part"));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().rfind("tmp-stale", 0) != 0);
  }
  cache.reset();
  // The removed row is gone from the durable index too.
  auto again = openCache(options(dir.path()));
  CHECK(again->stats().objects == 1);
}

TEST_CASE("reconcile does not delay open: lookups work before it finishes") {
  TempDir dir;
  {
    auto cache = openCache(options(dir.path()));
    put(*cache, "http://example.com/a", "a");
  }
  auto c = Cache::open(options(dir.path()));
  REQUIRE(c.ok());
  // Whatever the background thread has done, a write now must win over the
  // row being loaded.
  put(*c.value(), "http://example.com/a", "fresh");
  c.value()->waitUntilReady();
  CHECK(bodyOf(*c.value(), "http://example.com/a") == "fresh");
  CHECK(c.value()->stats().objects == 1);
  c.value()->flush();
  CHECK(filesUnder(dir.path(), "objects").size() == 1);
}

TEST_CASE("eviction keeps the total under max_size") {
  for (auto kind : {EvictionKind::kLru, EvictionKind::kS3Fifo}) {
    CAPTURE(evictionKindName(kind));
    TempDir dir;
    auto o = options(dir.path(), 10000);
    o.eviction = kind;
    {
      auto cache = openCache(o);
      for (int i = 0; i < 200; ++i) {
        put(*cache, "http://example.com/" + std::to_string(i), std::string(100 + (i * 37) % 900, 'x'));
        // Keep one object hot: it must survive under either policy.
        if (i % 2 == 0) CHECK(cache->lookup("http://example.com/0", {}) != nullptr);
        CHECK(cache->stats().bytes <= 10000);
      }
      cache->flush();
      uint64_t onDisk = 0;
      for (const auto& f : filesUnder(dir.path(), "objects")) onDisk += std::filesystem::file_size(dir.path() + "/" + f);
      CHECK(onDisk == cache->stats().bytes);
      CHECK(onDisk <= 10000);
      CHECK(cache->stats().objects < 200);
    }
    auto reopened = openCache(o);
    CHECK(reopened->stats().bytes <= 10000);
    CHECK(reopened->stats().objects > 0);
  }
}

TEST_CASE("min_free_disk and write failures: the store refuses gracefully") {
  TempDir dir;
  auto freeBytes = std::make_shared<std::atomic<uint64_t>>(100 << 20);
  auto o = options(dir.path());
  o.minFreeDisk = 10 << 20;
  o.maxObjectSize = 8 << 20;
  o.freeSpaceProbe = [freeBytes]() -> std::optional<uint64_t> { return freeBytes->load(); };
  auto cache = openCache(o);

  SUBCASE("no room at the start") {
    freeBytes->store(10 << 20);
    CHECK_FALSE(cache->beginWrite(writeRequest("http://example.com/a", 1)).ok());
  }
  SUBCASE("probe failure refuses") {
    auto o2 = o;
    o2.freeSpaceProbe = []() -> std::optional<uint64_t> { return std::nullopt; };
    cache.reset();
    cache = openCache(o2);
    CHECK_FALSE(cache->beginWrite(writeRequest("http://example.com/a", 1)).ok());
    cache.reset();
    cache = openCache(o);
  }
  SUBCASE("disk fills while writing") {
    auto req = writeRequest("http://example.com/a", 0);
    req.expectedLength.reset();
    auto w = cache->beginWrite(std::move(req));
    REQUIRE(w.ok());
    REQUIRE(w.value()->append(std::string(1 << 20, 'a')).ok());
    freeBytes->store(10 << 20);
    CHECK_FALSE(w.value()->append(std::string(1 << 20, 'b')).ok());
  }
  SUBCASE("write(2) fails (file size limit)") {
    struct rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit low = old;
    low.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &low) == 0);
    auto w = cache->beginWrite(writeRequest("http://example.com/a", 8192));
    REQUIRE(w.ok());
    auto r = w.value()->append(std::string(8192, 'z'));
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, oldHandler);
    CHECK_FALSE(r.ok());
  }
  cache->flush();
  CHECK(cache->lookup("http://example.com/a", {}) == nullptr);
  CHECK(filesUnder(dir.path(), "tmp").empty());
  // The cache still works once there is room again.
  freeBytes->store(100 << 20);
  put(*cache, "http://example.com/b", "ok");
  CHECK(bodyOf(*cache, "http://example.com/b") == "ok");
}

TEST_CASE("restart: the origin address an object came from is kept") {
  TempDir dir;
  {
    auto cache = openCache(options(dir.path()));
    auto w = writeRequest("http://example.com/o", 2);
    w.originAddress = "192.0.2.7";
    auto writer = cache->beginWrite(std::move(w));
    REQUIRE(writer.ok());
    REQUIRE(writer.value()->append("ok").ok());
    REQUIRE(writer.value()->commit().ok());
    put(*cache, "http://example.com/unknown", "u");
  }
  auto cache = openCache(options(dir.path()));
  auto e = cache->lookup("http://example.com/o", {});
  REQUIRE(e);
  CHECK(e->originAddress == "192.0.2.7");
  auto u = cache->lookup("http://example.com/unknown", {});
  REQUIRE(u);
  CHECK(u->originAddress.empty());
}

TEST_CASE("schema: an index of version 1 is upgraded in place") {
  TempDir dir;
  std::filesystem::create_directories(dir.path());
  {
    auto cache = openCache(options(dir.path()));  // creates the layout
  }
  // Make it look like version 1: no origin column.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir.path() + "/index.sqlite").c_str(), &db) == SQLITE_OK);
  const char* v1 =
      "DROP TABLE objects;"
      "CREATE TABLE objects(id INTEGER PRIMARY KEY, key TEXT NOT NULL, secondary TEXT NOT NULL,"
      " vary TEXT NOT NULL, file TEXT NOT NULL, body_size INTEGER NOT NULL, status INTEGER NOT NULL,"
      " reason TEXT NOT NULL, headers BLOB NOT NULL, request_time_ms INTEGER NOT NULL,"
      " response_time_ms INTEGER NOT NULL);"
      "PRAGMA user_version=1;";
  REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto cache = openCache(options(dir.path()));
  auto e = put(*cache, "http://example.com/after", "x");
  cache->flush();
  CHECK(bodyOf(*cache, "http://example.com/after") == "x");
}
