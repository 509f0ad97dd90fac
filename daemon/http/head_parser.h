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
  size_t maxRequestLine = 8192;    ///< longer request line -> 414
  size_t maxHeaderBytes = 65536;   ///< longer head (start line + fields) -> 431 (502 for responses)
  size_t maxHeaderCount = 128;     ///< more fields -> 431
};

/// Parses a request head from the start of `bytes`. On kDone, `out` holds the
/// head and `consumed` is the head length including the final CRLF. Strict
/// per RFC 9112 §2.2, §3, §5 and RFC 9110 §5.5: rejects obs-fold, bare CR,
/// bare LF as line end is tolerated only where RFC 9112 §2.2 allows (never),
/// whitespace before the colon, NUL/control characters in fields, invalid
/// tokens, versions other than HTTP/1.0 and HTTP/1.1 (505).
/// Leading empty lines (CRLF) before the request line are skipped (§2.2).
ParseOutcome parseRequestHead(std::string_view bytes, const ParseLimits& limits, RequestHead& out);

/// Parses a response head; same strictness. A 1xx head is returned like any
/// other: the caller loops for the final response.
ParseOutcome parseResponseHead(std::string_view bytes, const ParseLimits& limits, ResponseHead& out);

}  // namespace portcullis::http
