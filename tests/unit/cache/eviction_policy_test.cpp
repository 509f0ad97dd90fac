#include <doctest/doctest.h>

#include <vector>

#include "cache/store/eviction_policy.h"

using namespace portcullis::cache;

namespace {
std::vector<uint64_t> drain(EvictionPolicy& p) {
  std::vector<uint64_t> out;
  while (auto k = p.evict()) out.push_back(*k);
  return out;
}
}  // namespace

TEST_CASE("LRU evicts the least recently used first") {
  auto p = makeEvictionPolicy(EvictionKind::kLru, 100);
  for (uint64_t k = 1; k <= 4; ++k) p->onInsert(k, 10);
  p->onAccess(1);
  p->onRemove(3);
  p->onReplace(2, 25);
  CHECK(p->trackedBytes() == 45);
  CHECK(p->objectCount() == 3);
  CHECK(drain(*p) == std::vector<uint64_t>{4, 1, 2});
  CHECK(p->trackedBytes() == 0);
}

namespace {
// Inserts like the cache does: admit, then evict while over capacity.
std::vector<uint64_t> admit(EvictionPolicy& p, uint64_t key, uint64_t size, uint64_t capacity) {
  std::vector<uint64_t> evicted;
  p.onInsert(key, size);
  while (p.trackedBytes() > capacity) evicted.push_back(*p.evict());
  return evicted;
}
}  // namespace

TEST_CASE("S3-FIFO resists scans that LRU does not") {
  for (auto kind : {EvictionKind::kS3Fifo, EvictionKind::kLru}) {
    CAPTURE(evictionKindName(kind));
    auto p = makeEvictionPolicy(kind, 100);
    for (uint64_t k = 1; k <= 20; ++k) CHECK(admit(*p, k, 5, 100).empty());
    for (uint64_t k = 1; k <= 5; ++k) p->onAccess(k);
    // S3-FIFO: 1-5 were hit while in the small queue and move to main; 6 is
    // the first one-hit wonder out (and becomes a ghost).
    auto out = admit(*p, 21, 5, 100);
    if (kind == EvictionKind::kS3Fifo) CHECK(out == std::vector<uint64_t>{6});
    // 6 comes back: a ghost goes straight to the main queue.
    admit(*p, 6, 5, 100);
    // A scan of 30 objects seen once.
    std::vector<uint64_t> evicted;
    for (uint64_t k = 100; k < 130; ++k) {
      auto e = admit(*p, k, 5, 100);
      evicted.insert(evicted.end(), e.begin(), e.end());
    }
    bool hotEvicted = false;
    for (auto k : evicted) hotEvicted = hotEvicted || (k >= 1 && k <= 6);
    CHECK(hotEvicted == (kind == EvictionKind::kLru));
    CHECK(p->trackedBytes() <= 100);
  }
}

TEST_CASE("S3-FIFO: main queue reinserts while the counter is non-zero; replace keeps history") {
  auto p = makeEvictionPolicy(EvictionKind::kS3Fifo, 100);
  for (uint64_t k = 1; k <= 20; ++k) admit(*p, k, 5, 100);
  for (uint64_t k = 1; k <= 2; ++k) p->onAccess(k);
  admit(*p, 21, 5, 100);  // 1 and 2 move to main with counters cleared; 3 leaves
  p->onAccess(2);         // 2 gets a hit in main
  p->onReplace(1, 7);     // 1 refetched: stays in main, counts as a hit
  CHECK(p->trackedBytes() == 102);
  auto order = drain(*p);
  // S first while it is above its 10% share (4..20), then M, where 1 and 2
  // each get a second chance before leaving; 21 stays in S until M is empty.
  REQUIRE(order.size() == 20);
  CHECK(order[16] == 20);
  CHECK(order[17] == 1);
  CHECK(order[18] == 2);
  CHECK(order[19] == 21);
  CHECK(p->trackedBytes() == 0);
}
