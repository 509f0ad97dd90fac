// SlicedWriter: a body streaming past becomes the descriptor plus one entry
// per slice, each committed when full; a body cut short keeps only the
// whole slices; every slice's bytes are the body's bytes at its offset.
#include <doctest/doctest.h>

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
    CHECK(w.value()->append(std::string_view(body).substr(0, kSlice + 100)));
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
