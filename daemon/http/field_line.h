#pragma once
// One field line scanner shared by the head parsers and the chunked trailer
// section, so headers and trailers obey exactly the same rules.

#include <cstddef>
#include <string_view>

namespace portcullis::http {

enum class LineScan { kOk, kNeedMore, kLimit, kInvalid };

struct FieldLineScan {
  LineScan status = LineScan::kNeedMore;
  size_t next = 0;          ///< kOk: index just after the line's LF
  size_t errorOffset = 0;   ///< kInvalid: offending byte
  std::string_view reason;  ///< kInvalid: static text
};

/// Scans the field line starting at `start` in `bytes` (RFC 9112 §5,
/// RFC 9110 §5.5): token name, ':' with no whitespace before it, OWS, value
/// bytes (HTAB, SP, VCHAR, obs-text), CRLF. A line starting with SP/HTAB
/// (obs-fold, RFC 9112 §5.2) is invalid. Bytes are examined left to right and
/// never at an index >= `limit`: needing one there gives kLimit when it exists
/// in `bytes`, kNeedMore when it does not. So the answer for a prefix of a
/// buffer is either kNeedMore or the answer for the whole buffer.
FieldLineScan scanFieldLine(std::string_view bytes, size_t start, size_t limit);

}  // namespace portcullis::http
