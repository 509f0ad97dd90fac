// Fuzzes the pure cache policy: Cache-Control, HTTP dates, storability,
// freshness/age, evaluation, Vary keys, validation and Range handling.
// Input: lines "name: value"; a line "--" separates the request fields from
// the stored response's fields; a first line "#<digits>" sets the status.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cache/policy/cache_control.h"
#include "cache/policy/freshness.h"
#include "cache/policy/http_date.h"
#include "cache/policy/range.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"

using namespace portcullis;
using namespace portcullis::cache::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  http::RequestHead request;
  request.method = "GET";
  request.methodKind = http::Method::kGet;
  http::ResponseHead response;
  response.status = 200;
  bool inResponse = false;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    std::string_view line = in.substr(pos, end - pos);
    pos = end + 1;
    if (line == "--") {
      inResponse = true;
      continue;
    }
    if (!line.empty() && line[0] == '#') {
      int status = 0;
      for (char c : line.substr(1, 3)) status = (c >= '0' && c <= '9') ? status * 10 + (c - '0') : status;
      response.status = status;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    (inResponse ? response.headers : request.headers).add(std::string(line.substr(0, colon)), std::string(value));
  }

  (void)parseCacheControl(request.headers);
  (void)parseHttpDate(in.substr(0, 64));
  (void)checkStorable(request, response);
  StoredResponse stored;
  stored.status = response.status;
  stored.headers = headersForStorage(response.headers);
  stored.requestTime = SystemTime(std::chrono::seconds(784111777));
  stored.responseTime = stored.requestTime;
  for (int64_t dt : {0, 1, 3600, 86400 * 400}) {
    auto ev = evaluate(request, stored, stored.responseTime + std::chrono::seconds(dt));
    if (ev.age < 0 || ev.lifetime < 0) __builtin_trap();
  }
  auto names = varyFieldNames(response.headers);
  (void)secondaryKey(names, request.headers);
  (void)evaluateClientConditional(request, stored);
  (void)buildNotModified(stored, 1);
  http::HeaderMap upstream = request.headers;
  (void)addRevalidationHeaders(upstream, stored);
  (void)notModifiedMatches(stored, response);
  (void)mergeNotModified(stored, response, stored.requestTime, stored.responseTime);
  for (uint64_t bodySize : {0ULL, 1ULL, 1000ULL}) {
    auto r = rangeForRequest(request, stored, bodySize);
    if (r.kind == RangeSpec::Kind::kSatisfiable && (r.first > r.last || r.last >= bodySize)) __builtin_trap();
    (void)contentRangeValue(r, bodySize);
  }
  return 0;
}
