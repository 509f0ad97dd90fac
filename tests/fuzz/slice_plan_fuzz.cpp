// Fuzzes the slice planner: Content-Range parsing and the check of a 206
// against an expected slice. Input: first line "<index> <sliceSize>", then
// "name: value" response fields; a line "#<digits>" sets the status.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cache/policy/slice_plan.h"

using namespace portcullis;
using namespace portcullis::cache::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = parseContentRange(in)) {
    if (r->last < r->first) abort();
    if (r->total && r->last >= *r->total) abort();
  }
  http::ResponseHead response;
  response.status = 206;
  uint64_t index = 0, sliceSize = 1024;
  size_t pos = 0;
  bool first = true;
  while (pos < in.size()) {
    size_t end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    std::string_view line = in.substr(pos, end - pos);
    pos = end + 1;
    if (first) {
      first = false;
      std::string s(line);
      index = std::strtoull(s.c_str(), nullptr, 10) % 100000;
      const size_t sp = s.find(' ');
      if (sp != std::string::npos)
        sliceSize = 1 + std::strtoull(s.c_str() + sp, nullptr, 10) % (1u << 26);
      continue;
    }
    if (!line.empty() && line[0] == '#') {
      int status = 0;
      for (char c : line.substr(1, 3))
        status = (c >= '0' && c <= '9') ? status * 10 + (c - '0') : status;
      response.status = status;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    response.headers.add(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  std::optional<ObjectVersion> seen;
  auto a = checkSliceAnswer(response, index, sliceSize, std::nullopt, seen);
  if (a == SliceAnswer::kOk) {
    if (!seen) abort();
    // The same answer must be accepted against the version it described.
    std::optional<ObjectVersion> again;
    if (checkSliceAnswer(response, index, sliceSize, seen, again) != SliceAnswer::kOk) abort();
    SliceGeometry g{seen->total, sliceSize};
    if (index >= g.count() || g.length(index) == 0) abort();
    (void)sliceKey("http://x/", *seen, sliceSize, index);
  }
  return 0;
}
