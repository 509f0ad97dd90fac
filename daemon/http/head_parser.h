#pragma once
// Stateless parsers for request and response heads (start line + fields).
// Like picohttpparser: the caller appends bytes to its buffer and calls again
// with the whole buffer; nothing is kept between calls.

#include <cstddef>
#include <string_view>

#include "daemon/http/message.h"
#include "daemon/http/parse_outcome.h"

namespace portcullis::http {

struct ParseLimits {
  size_t maxRequestLine = 8192;   ///< request line incl. CRLF longer than this -> 414
  size_t maxHeaderBytes = 65536;  ///< head (leading CRLFs + start line + fields + final CRLF)
                                  ///< longer than this -> 431 (502 for responses)
  size_t maxHeaderCount = 128;    ///< more fields -> 431 (502 for responses)
};

/// Parses a request head from the start of `bytes`. On kDone, `out` holds the
/// head (its previous fields are replaced) and `consumed` is the head length
/// including any skipped leading CRLFs and the final CRLF. Strict per
/// RFC 9112 §2.2, §3, §5 and RFC 9110 §5.5: every line must end in CRLF (a
/// bare LF or bare CR anywhere is 400), obs-fold, whitespace before the
/// colon, empty or non-token field names, NUL/control characters in values,
/// invalid method tokens, request-targets with anything but visible ASCII,
/// and anything but a single SP between the parts are 400; a well-formed
/// HTTP-version other than HTTP/1.0 and HTTP/1.1 is 505.
/// Leading empty lines (CRLF) before the request line are skipped (§2.2).
/// Limits are detected as soon as the buffer passes them without a line or
/// head end. Bytes are examined strictly left to right, so for any prefix of
/// a buffer the answer is kNeedMore or the same as for the whole buffer.
/// Allocates only when it returns kDone.
ParseOutcome parseRequestHead(std::string_view bytes, const ParseLimits& limits, RequestHead& out);

/// Parses a response head; same strictness, every error is 502. The status
/// must be 3 digits in 100-599. "HTTP/1.1 200" CRLF without the SP before an
/// empty reason is accepted (common in the wild, unambiguous). Leading empty
/// lines are NOT skipped (§2.2 allows that for requests only). A 1xx head is
/// returned like any other: the caller loops for the final response.
ParseOutcome parseResponseHead(std::string_view bytes, const ParseLimits& limits,
                               ResponseHead& out);

}  // namespace portcullis::http
