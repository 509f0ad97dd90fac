// SlicedWriter: a body streaming past becomes the descriptor plus one entry
// per slice, each committed when full; a body cut short keeps only the
// whole slices; every slice's bytes are the body's bytes at its offset.
#include <doctest/doctest.h>

#include "cache/cache_admin.h"
#include "cache/sliced_writer.h"
#include "tests/unit/cache/store_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;

namespace {

constexpr uint64_t kSlice = 64 * 1024;

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  return s;
}

SlicedWriter::Start startFor(uint64_t total) {
  SlicedWriter::Start s;
  s.primaryKey = "http://example.com/big";
  s.head = response(200, headers({{"ETag", "\"v1\""},
                                  {"Cache-Control", "max-age=60"},
                                  {"Content-Length", std::to_string(total)}}));
  s.version = *policy::versionOf(s.head.headers, total);
  s.sliceSize = kSlice;
  s.requestTime = at(kT0);
  s.responseTime = at(kT0 + 1);
  s.originAddress = "192.0.2.1";
  return s;
}

std::string sliceBytes(Cache& cache, const SlicedWriter::Start& s, uint64_t index) {
  auto e = cache.lookup(policy::sliceKey(s.primaryKey, s.version, kSlice, index), {});
  if (!e) return "<missing>";
  auto fd = cache.openBody(*e);
  REQUIRE(fd.ok());
  return readFd(fd.value().get());
}

}  // namespace

TEST_CASE("a body stored as slices") {
  TempDir dir;
  auto o = options(dir.path(), 16 << 20);
  auto cache = openCache(o);
  const uint64_t total = 3 * kSlice + 1234;  // the last slice is short
  const std::string body = pattern(total);
  const auto start = startFor(total);

  SUBCASE("whole, fed in odd pieces") {
    auto w = SlicedWriter::begin(*cache, start);
    REQUIRE(w.ok());
    for (size_t at = 0; at < body.size(); at += 9999) {
      CHECK(w.value()->append(std::string_view(body).substr(at, 9999)));
    }
    w.value()->finish();
    CHECK(w.value()->committed() == 4);
    auto descriptor = cache->lookup(policy::descriptorKey(start.primaryKey), {});
    REQUIRE(descriptor);
    CHECK(descriptor->bodySize == 0);
    CHECK(descriptor->response.headers.get("Content-Length") == std::to_string(total));
    CHECK(descriptor->originAddress == "192.0.2.1");
    for (uint64_t i = 0; i < 4; ++i) {
      CAPTURE(i);
      CHECK(sliceBytes(*cache, start, i) == body.substr(i * kSlice, kSlice));
    }
  }
  SUBCASE("cut short: only the whole slices stay") {
    auto w = SlicedWriter::begin(*cache, start);
    REQUIRE(w.ok());
    CHECK(w.value()->leftInSlice() == 0);  // no slice open yet
    CHECK(w.value()->append(std::string_view(body).substr(0, kSlice + 100)));
    CHECK(w.value()->leftInSlice() == kSlice - 100);  // what a fill would finish
    w.value()->finish();
    CHECK(w.value()->committed() == 1);
    CHECK(sliceBytes(*cache, start, 0) == body.substr(0, kSlice));
    CHECK(sliceBytes(*cache, start, 1) == "<missing>");
  }
  SUBCASE("more bytes than the length: storing stops") {
    auto w = SlicedWriter::begin(*cache, start);
    REQUIRE(w.ok());
    CHECK_FALSE(w.value()->append(body + "extra"));
  }
}

TEST_CASE("purging a sliced object removes its descriptor and every slice") {
  TempDir dir;
  const uint64_t total = 3 * kSlice + 1234;
  const std::string body = pattern(total);
  auto start = startFor(total);
  auto other = startFor(total);
  other.primaryKey = "http://example.com/other";
  {
    auto cache = openCache(options(dir.path(), 16 << 20));
    for (const auto& s : {start, other}) {
      auto w = SlicedWriter::begin(*cache, s);
      REQUIRE(w.ok());
      CHECK(w.value()->append(body));
      w.value()->finish();
    }
    // A slice of an older version and of another slice size stay reachable
    // to a scan only: they go too.
    auto v0 = start;
    v0.head.headers.set("ETag", "\"v0\"");
    v0.version = *policy::versionOf(v0.head.headers, total);
    auto w0 = SlicedWriter::begin(*cache, v0);
    REQUIRE(w0.ok());
    CHECK(w0.value()->append(std::string_view(body).substr(0, kSlice)));
    w0.value()->finish();
    CHECK(cache->stats().objects == 2 * 5 + 1);  // the v0 descriptor replaced v1's

    // The live purge (the admin socket's): descriptor and 5 slices.
    CHECK(cache->purge("http://EXAMPLE.com/big").value() == 1 + 4 + 1);
    CHECK(cache->lookup(policy::descriptorKey(start.primaryKey), {}) == nullptr);
    CHECK(sliceBytes(*cache, start, 2) == "<missing>");
    CHECK(sliceBytes(*cache, other, 2) == body.substr(2 * kSlice, kSlice));
    CHECK(cache->stats().objects == 5);
    cache->flush();
  }
  // Offline (portcullis cache purge) after a restart: the other object.
  CHECK(offlineStats(dir.path())->objects == 5);
  auto purged = offlinePurge(dir.path(), "http://example.com/other");
  REQUIRE(purged.ok());
  CHECK(purged.value() == 5);
  CHECK(offlineStats(dir.path())->objects == 0);
  CHECK(filesUnder(dir.path(), "objects").empty());
}
