#pragma once
// HTTP/1.1 message heads and body framing types (RFC 9112).

#include <cstdint>
#include <string>

#include "daemon/http/header_map.h"

namespace portcullis::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kConnect, kOptions, kTrace, kPatch, kOther };

/// Maps a method token (case-sensitive, RFC 9110 §9.1) to Method; kOther when unknown.
Method methodFromToken(std::string_view token);

struct RequestHead {
  std::string method;  ///< token as sent (case-sensitive)
  Method methodKind = Method::kOther;
  std::string target;  ///< request-target exactly as sent
  int versionMinor = 1;  ///< HTTP/1.<minor>; only 1.0 and 1.1 are accepted
  HeaderMap headers;
};

struct ResponseHead {
  int versionMinor = 1;
  int status = 0;
  std::string reason;
  HeaderMap headers;
};

/// How the body of a message is delimited (RFC 9112 §6.3).
enum class BodyKind { kNone, kContentLength, kChunked, kUntilClose };

struct Framing {
  BodyKind kind = BodyKind::kNone;
  uint64_t length = 0;  ///< for kContentLength
};

}  // namespace portcullis::http
