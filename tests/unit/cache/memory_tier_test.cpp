#include <doctest/doctest.h>

#include <filesystem>

#include "cache/store/memory_tier.h"
#include "tests/unit/cache/store_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;

namespace {
SharedBody bytes(size_t n, char c) { return std::make_shared<const std::string>(n, c); }
}  // namespace

TEST_CASE("memory tier: keeps the most recently used bodies within its budget") {
  MemoryTier tier(100, 40);
  CHECK_FALSE(tier.accepts(41));
  CHECK(tier.accepts(40));
  tier.insert(1, bytes(40, 'a'));
  tier.insert(2, bytes(40, 'b'));
  REQUIRE(tier.find(1));  // 1 is now the most recent
  tier.insert(3, bytes(40, 'c'));  // 120 > 100: the least recent (2) goes
  CHECK(tier.find(2) == nullptr);
  CHECK(*tier.find(1) == std::string(40, 'a'));
  CHECK(*tier.find(3) == std::string(40, 'c'));
  CHECK(tier.bytes() == 80);
  CHECK(tier.count() == 2);
  tier.insert(4, bytes(41, 'd'));  // too large: not kept
  CHECK(tier.find(4) == nullptr);
  tier.erase(1);
  CHECK(tier.find(1) == nullptr);
  CHECK(tier.bytes() == 40);
}

TEST_CASE("memory tier: off when its size is 0") {
  MemoryTier tier(0, 64);
  CHECK_FALSE(tier.accepts(1));
  tier.insert(1, bytes(1, 'x'));
  CHECK(tier.count() == 0);
}

TEST_CASE("cache: small bodies are read once, then served from RAM") {
  TempDir dir;
  auto o = options(dir.path());
  o.memorySize = 1 << 16;
  o.memoryMaxObjectSize = 1024;
  auto cache = openCache(o);
  const std::string key = "http://example.com/small";
  auto entry = put(*cache, key, "small body");
  auto first = cache->memoryBody(*entry);
  REQUIRE(first);
  CHECK(*first == "small body");
  CHECK(cache->stats().memoryObjects == 1);
  CHECK(cache->stats().memoryBytes == 10);
  // The second hit does not read the disk: it works with the file gone.
  std::filesystem::remove(entry->bodyPath);
  auto second = cache->memoryBody(*entry);
  REQUIRE(second);
  CHECK(second.get() == first.get());

  SUBCASE("a large body is left to sendfile") {
    auto big = put(*cache, "http://example.com/big", std::string(2048, 'b'));
    CHECK(cache->memoryBody(*big) == nullptr);
    CHECK(cache->stats().memoryObjects == 1);
  }
  SUBCASE("invalidation drops the RAM copy") {
    CHECK(cache->invalidate(key) == 1);
    CHECK(cache->stats().memoryObjects == 0);
  }
  SUBCASE("a new version of the object is a new body, never the old copy") {
    auto replacement = put(*cache, key, "new version");
    CHECK(cache->stats().memoryObjects == 0);  // the replaced body's copy went
    auto now = cache->memoryBody(*replacement);
    REQUIRE(now);
    CHECK(*now == "new version");
  }
}

TEST_CASE("cache: a damaged small body is not kept in RAM and drops the entry") {
  TempDir dir;
  auto o = options(dir.path());
  auto cache = openCache(o);
  const std::string key = "http://example.com/damaged";
  auto entry = put(*cache, key, "twelve bytes");
  std::filesystem::resize_file(entry->bodyPath, 5);
  CHECK(cache->memoryBody(*entry) == nullptr);
  CHECK(cache->stats().memoryObjects == 0);
  CHECK(cache->lookup(key, {}) == nullptr);
}
