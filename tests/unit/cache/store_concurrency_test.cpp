#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "tests/unit/cache/store_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;

namespace {
// Version v of key k: a body whose every byte says which version it is and
// whose length depends on v, so that a torn or mixed body is detectable.
std::string versionBody(int v) { return std::string(1000 + static_cast<size_t>(v % 7) * 100, static_cast<char>('a' + v % 26)); }
}  // namespace

TEST_CASE("concurrent lookups from several threads while writing") {
  TempDir dir;
  auto o = options(dir.path(), 64 * 1024);  // small: eviction runs too
  auto cache = openCache(o);
  constexpr int kKeys = 8;
  std::atomic<bool> done{false};
  std::atomic<int> hits{0};
  std::atomic<int> bad{0};

  auto reader = [&] {
    while (!done.load()) {
      for (int k = 0; k < kKeys; ++k) {
        auto e = cache->lookup("http://example.com/" + std::to_string(k), {});
        if (!e) continue;
        auto fd = cache->openBody(*e);
        if (!fd) continue;  // replaced or evicted since lookup: a miss
        const std::string body = readFd(fd->get());
        // Complete and of one version only.
        if (body.size() != e->bodySize || body.empty() ||
            body.find_first_not_of(body[0]) != std::string::npos) {
          bad.fetch_add(1);
        }
        hits.fetch_add(1);
      }
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) readers.emplace_back(reader);
  for (int v = 0; v < 300; ++v) {
    const std::string key = "http://example.com/" + std::to_string(v % kKeys);
    const std::string body = versionBody(v);
    auto w = cache->beginWrite(writeRequest(key, body.size()));
    REQUIRE(w.ok());
    // Two appends so that readers get a chance to see a half-written body.
    REQUIRE(w.value()->append(std::string_view(body).substr(0, 500)).ok());
    REQUIRE(w.value()->append(std::string_view(body).substr(500)).ok());
    if (v % 10 == 9) {
      w.value()->abort();
    } else {
      REQUIRE(w.value()->commit().ok());
    }
  }
  // Let readers see the final state at least once before stopping.
  const int before = hits.load();
  while (hits.load() < before + 4 * kKeys) std::this_thread::yield();
  done = true;
  for (auto& t : readers) t.join();
  CHECK(bad.load() == 0);
  CHECK(cache->stats().bytes <= 64 * 1024);
}

TEST_CASE("read-while-writer: readers follow the growing body") {
  TempDir dir;
  auto cache = openCache(options(dir.path()));
  const std::string key = "http://example.com/big";
  auto w = cache->beginWrite(writeRequest(key, 6));
  REQUIRE(w.ok());
  auto progress = w.value()->progress();
  CHECK(progress->state() == InFlightBody::State::kWriting);
  CHECK(progress->bytesWritten() == 0);
  REQUIRE(w.value()->append("abc").ok());

  auto early = progress->openReader();
  REQUIRE(early.ok());
  CHECK(progress->bytesWritten() == 3);
  CHECK(readFd(early->get()) == "abc");

  REQUIRE(w.value()->append("def").ok());
  REQUIRE(w.value()->commit().ok());
  CHECK(progress->state() == InFlightBody::State::kCommitted);
  // The fd opened on the temporary file now reads the whole, renamed body.
  CHECK(readFd(early->get()) == "abcdef");
  auto late = progress->openReader();
  REQUIRE(late.ok());
  CHECK(readFd(late->get()) == "abcdef");
  REQUIRE(progress->committedEntry());
  CHECK(progress->committedEntry()->bodySize == 6);
  // Waiters keep `progress` alive after the writer is gone.
  w.value().reset();
  CHECK(progress->openReader().ok());

  SUBCASE("abort is visible to readers") {
    auto w2 = cache->beginWrite(writeRequest(key, 6));
    REQUIRE(w2.ok());
    auto p2 = w2.value()->progress();
    REQUIRE(w2.value()->append("xy").ok());
    auto fd = p2->openReader();
    REQUIRE(fd.ok());
    w2.value()->abort();
    CHECK(p2->state() == InFlightBody::State::kAborted);
    CHECK_FALSE(p2->openReader().ok());
    CHECK(readFd(fd->get()) == "xy");  // what was written stays readable to open fds
    CHECK(bodyOf(*cache, key) == "abcdef");
  }
}
