// The slice planner: geometry, Content-Range parsing (whole, and every
// prefix of a valid value, as a cut-short field would arrive), versions,
// and the check of an origin's answer to a slice request.
#include <doctest/doctest.h>

#include "cache/policy/slice_plan.h"

using namespace portcullis;
using namespace portcullis::cache::policy;

namespace {
http::ResponseHead answer(int status, std::string contentRange, std::string etag) {
  http::ResponseHead r;
  r.status = status;
  if (!contentRange.empty()) r.headers.add("Content-Range", std::move(contentRange));
  if (!etag.empty()) r.headers.add("ETag", std::move(etag));
  return r;
}
}  // namespace

TEST_CASE("slice geometry") {
  SliceGeometry g{10 * 1024 + 5, 1024};
  CHECK(g.count() == 11);
  CHECK(g.length(0) == 1024);
  CHECK(g.length(10) == 5);
  CHECK(g.length(11) == 0);
  CHECK(g.start(3) == 3072);
  auto s = g.covering(1023, 1024);
  CHECK(s.first == 0);
  CHECK(s.last == 1);
  s = g.covering(2048, 2048 + 1023);
  CHECK(s.first == 2);
  CHECK(s.last == 2);
  CHECK(sliceRangeValue(g, 10) == "bytes=10240-10244");
  CHECK(sliceRangeValue(SliceGeometry{0, 1024}, 2) == "bytes=2048-3071");  // total unknown
}

TEST_CASE("Content-Range parsing") {
  struct Case {
    std::string_view in;
    bool ok;
    uint64_t first, last;
    std::optional<uint64_t> total;
  };
  const Case cases[] = {
      {"bytes 0-99/1000", true, 0, 99, 1000},
      {"BYTES 5-5/6", true, 5, 5, 6},
      {"bytes 0-99/*", true, 0, 99, std::nullopt},
      {" bytes 1-2/3 ", true, 1, 2, 3},
      {"bytes 5-4/10", false, 0, 0, {}},
      {"bytes 0-10/10", false, 0, 0, {}},
      {"bytes */10", false, 0, 0, {}},
      {"bytes 0-1/", false, 0, 0, {}},
      {"bytes -1/10", false, 0, 0, {}},
      {"bytes 0x1-2/3", false, 0, 0, {}},
      {"items 0-1/2", false, 0, 0, {}},
      {"bytes 0-1/99999999999999999999", false, 0, 0, {}},
      {"", false, 0, 0, {}},
  };
  for (const auto& c : cases) {
    const std::string in(c.in);
    CAPTURE(in);
    auto r = parseContentRange(c.in);
    REQUIRE(r.has_value() == c.ok);
    if (!c.ok) continue;
    CHECK(r->first == c.first);
    CHECK(r->last == c.last);
    CHECK((r->total == c.total));
  }
}

TEST_CASE("Content-Range: every cut-short prefix is refused or says something else") {
  // A field value split at any offset must never be taken for the whole.
  const std::string_view whole = "bytes 1048576-2097151/1073741824";
  auto full = parseContentRange(whole);
  REQUIRE(full);
  for (size_t cut = 0; cut < whole.size(); ++cut) {
    CAPTURE(cut);
    auto r = parseContentRange(whole.substr(0, cut));
    if (r) CHECK((r->first != full->first || r->last != full->last || r->total != full->total));
  }
}

TEST_CASE("object versions") {
  http::HeaderMap h;
  CHECK_FALSE(versionOf(h, 10));
  h.add("ETag", "W/\"weak\"");
  CHECK_FALSE(versionOf(h, 10));  // a weak ETag alone is no If-Range validator
  h.add("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT");
  auto lm = versionOf(h, 10);
  REQUIRE(lm);
  CHECK((lm->kind == ObjectVersion::Kind::kLastModified));
  h.set("ETag", "\"v1\"");
  auto e = versionOf(h, 10);
  REQUIRE(e);
  CHECK((e->kind == ObjectVersion::Kind::kETag));
  CHECK(e->validator == "\"v1\"");
  auto other = versionOf(h, 11);
  CHECK(e->tag() != other->tag());
  // Two ETag fields: ambiguous, fall back to Last-Modified.
  h.add("ETag", "\"v2\"");
  CHECK((versionOf(h, 10)->kind == ObjectVersion::Kind::kLastModified));
}

TEST_CASE("checking a slice answer") {
  const uint64_t kSlice = 1024;
  std::optional<ObjectVersion> seen;
  const auto v1 = versionOf(answer(206, "", "\"v1\"").headers, 4000);
  SUBCASE("first fetch of an unknown object") {
    CHECK(checkSliceAnswer(answer(206, "bytes 1024-2047/4000", "\"v1\""), 1, kSlice, std::nullopt,
                           seen) == SliceAnswer::kOk);
    REQUIRE(seen);
    CHECK((*seen == *v1));
  }
  SUBCASE("the last, short slice") {
    CHECK(checkSliceAnswer(answer(206, "bytes 3072-3999/4000", "\"v1\""), 3, kSlice, v1, seen) ==
          SliceAnswer::kOk);
  }
  SUBCASE("what is refused") {
    CHECK(checkSliceAnswer(answer(200, "", "\"v1\""), 1, kSlice, v1, seen) ==
          SliceAnswer::kIgnoredRange);
    CHECK(checkSliceAnswer(answer(404, "", ""), 1, kSlice, v1, seen) == SliceAnswer::kOther);
    CHECK(checkSliceAnswer(answer(206, "bytes 1024-2047/*", "\"v1\""), 1, kSlice, v1, seen) ==
          SliceAnswer::kNoVersion);
    CHECK(checkSliceAnswer(answer(206, "bytes 1024-2047/4000", ""), 1, kSlice, v1, seen) ==
          SliceAnswer::kNoVersion);
    CHECK(checkSliceAnswer(answer(206, "bytes 1024-2047/4000", "\"v2\""), 1, kSlice, v1, seen) ==
          SliceAnswer::kChanged);
    CHECK(checkSliceAnswer(answer(206, "bytes 1024-2047/4001", "\"v1\""), 1, kSlice, v1, seen) ==
          SliceAnswer::kChanged);
    CHECK(checkSliceAnswer(answer(206, "bytes 1000-2047/4000", "\"v1\""), 1, kSlice, v1, seen) ==
          SliceAnswer::kBadRange);
    CHECK(checkSliceAnswer(answer(206, "bytes 1024-1500/4000", "\"v1\""), 1, kSlice, v1, seen) ==
          SliceAnswer::kBadRange);
    CHECK(checkSliceAnswer(answer(206, "bytes 0-1/4000", "\"v1\""), 9, kSlice, v1, seen) ==
          SliceAnswer::kBadRange);
    CHECK(checkSliceAnswer(answer(206, "", "\"v1\""), 1, kSlice, v1, seen) ==
          SliceAnswer::kBadRange);
  }
}

TEST_CASE("slice keys") {
  auto v1 = *versionOf(answer(206, "", "\"v1\"").headers, 4000);
  auto v2 = *versionOf(answer(206, "", "\"v2\"").headers, 4000);
  const std::string url = "http://example.com/big.iso";
  CHECK(sliceKey(url, v1, 1024, 1) != sliceKey(url, v2, 1024, 1));
  CHECK(sliceKey(url, v1, 1024, 1) != sliceKey(url, v1, 1024, 11));
  CHECK(sliceKey(url, v1, 1024, 1) != sliceKey(url, v1, 2048, 1));
  CHECK(descriptorKey(url) != url);
  // No URL key contains a space; both forms do.
  CHECK(descriptorKey(url).find(' ') != std::string::npos);
  CHECK(sliceKey(url, v1, 1024, 1).find(' ') != std::string::npos);
}

TEST_CASE("the owner of a slice key") {
  const std::string url = "http://example.com/big.iso";
  auto v1 = *versionOf(answer(206, "", "\"v1\"").headers, 4000);
  // A validator with a space (not valid, but an origin may send it).
  auto odd = *versionOf(answer(206, "", "\"a b\"").headers, 4000);
  CHECK(sliceOwner(sliceKey(url, v1, 1024, 3)) == url);
  CHECK(sliceOwner(sliceKey(url, odd, 1 << 20, 0)) == url);
  CHECK(sliceOwner(url).empty());
  CHECK(sliceOwner(descriptorKey(url)).empty());
  CHECK(sliceOwner("slice ").empty());
  CHECK(sliceOwner(sliceKey(url + "x", v1, 1024, 3)) != url);
}
