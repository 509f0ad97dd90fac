#include "cache/policy/range.h"

#include "cache/policy/http_date.h"
#include "daemon/http/char_class.h"

namespace portcullis::cache::policy {
namespace {

// A byte position is any 64-bit value (RFC 9110 §14.1.1 sets no bound; 19
// digits cannot overflow).
constexpr size_t kMaxPositionDigits = 19;

}  // namespace

RangeSpec parseRange(std::string_view value, uint64_t size) {
  RangeSpec none;
  value = http::trimOws(value);
  constexpr std::string_view kPrefix = "bytes=";
  if (value.size() < kPrefix.size() ||
      !http::equalsIgnoreCase(value.substr(0, kPrefix.size()), kPrefix)) {
    return none;
  }
  std::string_view spec = http::trimOws(value.substr(kPrefix.size()));
  if (spec.find(',') != std::string_view::npos) return none;  // multi-range: send 200
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return none;
  std::string_view a = http::trimOws(spec.substr(0, dash));
  std::string_view b = http::trimOws(spec.substr(dash + 1));
  RangeSpec r;
  if (a.empty()) {  // suffix-range "-N": the last N bytes
    uint64_t n = 0;
    if (!http::parseDigits(b, kMaxPositionDigits, n)) return none;
    if (n == 0 || size == 0) {
      r.kind = RangeSpec::Kind::kUnsatisfiable;
      return r;
    }
    r.kind = RangeSpec::Kind::kSatisfiable;
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    return r;
  }
  uint64_t first = 0;
  if (!http::parseDigits(a, kMaxPositionDigits, first)) return none;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    if (!http::parseDigits(b, kMaxPositionDigits, last) || last < first)
      return none;  // invalid: ignore Range
    if (size > 0 && last >= size) last = size - 1;
  }
  if (first >= size) {
    r.kind = RangeSpec::Kind::kUnsatisfiable;
    return r;
  }
  r.kind = RangeSpec::Kind::kSatisfiable;
  r.first = first;
  r.last = last;
  return r;
}

RangeSpec rangeForRequest(const http::RequestHead& request, const StoredResponse& stored,
                          uint64_t size) {
  if (request.methodKind != http::Method::kGet || stored.status != 200) return {};
  auto range = request.headers.get("Range");
  if (!range) return {};
  if (auto ifRange = request.headers.get("If-Range")) {
    std::string_view v = http::trimOws(*ifRange);
    if (!v.empty() && (v.front() == '"' || v.substr(0, 2) == "W/")) {
      // §13.1.5: strong comparison; a weak tag never matches.
      auto etag = stored.headers.get("ETag");
      if (!etag || v.substr(0, 2) == "W/" || etag->substr(0, 2) == "W/" || *etag != v) return {};
    } else {
      auto lm = stored.headers.get("Last-Modified");
      auto t = parseHttpDate(v);
      if (!lm || !t || parseHttpDate(*lm) != t) return {};
    }
  }
  return parseRange(*range, size);
}

bool fetchWholeForRange(const http::RequestHead& request, uint64_t wholeMax) {
  if (request.methodKind != http::Method::kGet || wholeMax == 0) return false;
  auto range = request.headers.get("Range");
  if (!range || request.headers.getAll("Range").size() != 1) return false;
  // Parsed against the largest size we would fetch whole: a range that is
  // satisfiable there starts within it.
  return parseRange(*range, wholeMax).kind == RangeSpec::Kind::kSatisfiable;
}

std::string contentRangeValue(const RangeSpec& range, uint64_t size) {
  if (range.kind == RangeSpec::Kind::kSatisfiable) {
    return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
           std::to_string(size);
  }
  return "bytes */" + std::to_string(size);
}

}  // namespace portcullis::cache::policy
