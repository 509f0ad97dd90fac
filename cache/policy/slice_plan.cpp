#include "cache/policy/slice_plan.h"

#include <algorithm>

#include "daemon/http/char_class.h"

namespace portcullis::cache::policy {
namespace {

// 1*DIGIT that fits in 63 bits (lengths are off_t on the serving side).
constexpr size_t kMaxLengthDigits = 18;

}  // namespace

uint64_t SliceGeometry::length(uint64_t index) const {
  const uint64_t begin = start(index);
  if (begin >= total) return 0;
  return std::min(sliceSize, total - begin);
}

SliceSpan SliceGeometry::covering(uint64_t first, uint64_t last) const {
  return SliceSpan{first / sliceSize, last / sliceSize};
}

std::optional<ContentRange> parseContentRange(std::string_view value) {
  // RFC 9110 §14.4: Content-Range = range-unit SP ( range-resp / unsatisfied-range )
  //                 range-resp = incl-range "/" ( complete-length / "*" )
  value = http::trimOws(value);
  constexpr std::string_view kUnit = "bytes ";
  if (value.size() < kUnit.size() ||
      !http::equalsIgnoreCase(value.substr(0, kUnit.size()), kUnit)) {
    return std::nullopt;
  }
  std::string_view rest = value.substr(kUnit.size());
  const size_t dash = rest.find('-');
  const size_t slash = rest.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return std::nullopt;
  }
  ContentRange r;
  if (!http::parseDigits(rest.substr(0, dash), kMaxLengthDigits, r.first) ||
      !http::parseDigits(rest.substr(dash + 1, slash - dash - 1), kMaxLengthDigits, r.last) ||
      r.last < r.first) {
    return std::nullopt;
  }
  std::string_view total = rest.substr(slash + 1);
  if (total != "*") {
    uint64_t n = 0;
    if (!http::parseDigits(total, kMaxLengthDigits, n) || r.last >= n) return std::nullopt;
    r.total = n;
  }
  return r;
}

std::string ObjectVersion::tag() const {
  // Length-prefixed so that no two versions share a tag.
  return std::to_string(total) + (kind == Kind::kETag ? "/e" : "/l") +
         std::to_string(validator.size()) + ":" + validator;
}

std::optional<ObjectVersion> versionOf(const http::HeaderMap& headers, uint64_t total) {
  ObjectVersion v;
  v.total = total;
  // Only one ETag field is meaningful; several make the validator ambiguous.
  if (headers.count("ETag") == 1) {
    auto etag = http::trimOws(*headers.get("ETag"));
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {  // strong: no W/
      v.kind = ObjectVersion::Kind::kETag;
      v.validator = std::string(etag);
      return v;
    }
  }
  if (headers.count("Last-Modified") == 1) {
    auto lm = http::trimOws(*headers.get("Last-Modified"));
    if (!lm.empty()) {
      v.kind = ObjectVersion::Kind::kLastModified;
      v.validator = std::string(lm);
      return v;
    }
  }
  return std::nullopt;
}

std::string sliceRangeValue(const SliceGeometry& geometry, uint64_t index) {
  const uint64_t first = geometry.start(index);
  uint64_t last = first + geometry.sliceSize - 1;
  if (geometry.total > 0) last = std::min(last, geometry.total - 1);
  return "bytes=" + std::to_string(first) + "-" + std::to_string(last);
}

std::string_view sliceAnswerName(SliceAnswer answer) {
  switch (answer) {
    case SliceAnswer::kOk:
      return "ok";
    case SliceAnswer::kIgnoredRange:
      return "ignored-range";
    case SliceAnswer::kBadRange:
      return "bad-range";
    case SliceAnswer::kNoVersion:
      return "no-version";
    case SliceAnswer::kChanged:
      return "changed";
    case SliceAnswer::kOther:
      return "other";
  }
  return "?";
}

SliceAnswer checkSliceAnswer(const http::ResponseHead& response, uint64_t index, uint64_t sliceSize,
                             const std::optional<ObjectVersion>& known,
                             std::optional<ObjectVersion>& seen) {
  seen.reset();
  if (response.status == 200) return SliceAnswer::kIgnoredRange;
  if (response.status != 206) return SliceAnswer::kOther;
  // One Content-Range only: two could describe two different bodies.
  if (response.headers.count("Content-Range") != 1) return SliceAnswer::kBadRange;
  auto range = parseContentRange(*response.headers.get("Content-Range"));
  if (!range) return SliceAnswer::kBadRange;
  if (!range->total) return SliceAnswer::kNoVersion;
  seen = versionOf(response.headers, *range->total);
  if (!seen) return SliceAnswer::kNoVersion;
  if (known && !(*known == *seen)) return SliceAnswer::kChanged;
  SliceGeometry geometry{*range->total, sliceSize};
  if (index >= geometry.count()) return SliceAnswer::kBadRange;
  if (range->first != geometry.start(index) ||
      range->last != geometry.start(index) + geometry.length(index) - 1) {
    return SliceAnswer::kBadRange;
  }
  return SliceAnswer::kOk;
}

std::string descriptorKey(std::string_view primaryKey) {
  return "sliced-object " + std::string(primaryKey);
}

std::string sliceKey(std::string_view primaryKey, const ObjectVersion& version, uint64_t sliceSize,
                     uint64_t index) {
  return "slice " + std::to_string(sliceSize) + "/" + std::to_string(index) + "/" + version.tag() +
         " " + std::string(primaryKey);
}

std::string_view sliceOwner(std::string_view key) {
  constexpr std::string_view kPrefix = "slice ";
  if (key.substr(0, kPrefix.size()) != kPrefix) return {};
  // The primary key follows the last space: a normalised URL has none,
  // while a version's validator might.
  const size_t space = key.rfind(' ');
  if (space < kPrefix.size()) return {};
  return key.substr(space + 1);
}

}  // namespace portcullis::cache::policy
