#include "cache/policy/range.h"

#include "cache/policy/http_date.h"

namespace portcullis::cache::policy {
namespace {

std::string_view trimWs(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parseU64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

RangeSpec parseRange(std::string_view value, uint64_t size) {
  RangeSpec none;
  value = trimWs(value);
  constexpr std::string_view kPrefix = "bytes=";
  if (value.size() < kPrefix.size() ||
      !http::equalsIgnoreCase(value.substr(0, kPrefix.size()), kPrefix)) {
    return none;
  }
  std::string_view spec = trimWs(value.substr(kPrefix.size()));
  if (spec.find(',') != std::string_view::npos) return none;  // multi-range: send 200
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return none;
  std::string_view a = trimWs(spec.substr(0, dash));
  std::string_view b = trimWs(spec.substr(dash + 1));
  RangeSpec r;
  if (a.empty()) {  // suffix-range "-N": the last N bytes
    uint64_t n = 0;
    if (!parseU64(b, n)) return none;
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
  if (!parseU64(a, first)) return none;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    if (!parseU64(b, last) || last < first) return none;  // invalid: ignore Range
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
    std::string_view v = trimWs(*ifRange);
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
