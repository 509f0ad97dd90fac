#pragma once
// Range requests served from a complete stored response (RFC 9110 §14).

#include <cstdint>
#include <string>
#include <string_view>

#include "cache/policy/stored_response.h"
#include "daemon/http/message.h"

namespace portcullis::cache::policy {

struct RangeSpec {
  enum class Kind {
    kNone,           ///< no usable Range: answer 200 with the whole body
    kSatisfiable,    ///< answer 206 with bytes [first, last]
    kUnsatisfiable,  ///< answer 416 with Content-Range: bytes */size
  };
  Kind kind = Kind::kNone;
  uint64_t first = 0;
  uint64_t last = 0;  ///< inclusive
  uint64_t length() const { return last - first + 1; }
};

/// Parses a Range field value against a body of `size` bytes. Only the
/// "bytes" unit with exactly one range is honoured; several ranges, other
/// units and syntax errors give kNone (RFC 9110 §14.2 lets a server ignore
/// Range; answering 200 to multi-range is allowed). A single range that
/// starts at or after `size` (or a zero suffix) is kUnsatisfiable.
RangeSpec parseRange(std::string_view rangeValue, uint64_t size);

/// Applies Range and If-Range of a GET request to a stored 200 response of
/// `size` bytes: kNone when the request has no Range, is not a GET, the
/// stored status is not 200, or If-Range does not match (§13.1.5: strong
/// ETag equality, or a date exactly equal to Last-Modified).
RangeSpec rangeForRequest(const http::RequestHead& request, const StoredResponse& stored,
                          uint64_t size);

/// A Range miss: whether to fetch the whole object (then store it and cut
/// the client's range from it) rather than forward the range. True for a
/// GET with one byte range that starts at most `wholeMax` bytes in (a
/// suffix range counts as starting at 0); the size is only known from the
/// response, where the caller checks it against `wholeMax` again.
bool fetchWholeForRange(const http::RequestHead& request, uint64_t wholeMax);

/// "bytes first-last/size" for a 206, or "bytes */size" for a 416.
std::string contentRangeValue(const RangeSpec& range, uint64_t size);

}  // namespace portcullis::cache::policy
