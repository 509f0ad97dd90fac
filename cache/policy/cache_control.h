#pragma once
// Cache-Control directives (RFC 9111 §5.2) and Pragma (§5.4), parsed once
// per message. Pure: no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/http/header_map.h"

namespace portcullis::cache::policy {

/// Largest delta-seconds we keep; RFC 9111 §1.2.2 asks recipients to treat
/// larger values as 2^31.
inline constexpr int64_t kDeltaSecondsMax = 2147483648LL;

/// Every directive a shared cache acts on, from a request or a response.
/// Directives that take a value and carried an invalid one are recorded as
/// the most conservative reading (RFC 9111 §4.2.1: an invalid max-age makes
/// the response stale, so it parses as max-age=0).
struct CacheControl {
  // Response and request directives.
  bool noStore = false;
  bool noCache = false;           ///< unqualified, or qualified (treated the same)
  bool noTransform = false;
  std::optional<int64_t> maxAge;  ///< seconds

  // Response directives.
  bool isPublic = false;
  bool isPrivate = false;         ///< unqualified or qualified (treated the same)
  bool mustRevalidate = false;
  bool proxyRevalidate = false;
  bool mustUnderstand = false;
  bool immutable = false;
  std::optional<int64_t> sMaxAge;
  std::optional<int64_t> staleWhileRevalidate;  ///< RFC 5861 §3
  std::optional<int64_t> staleIfError;          ///< RFC 5861 §4 (request or response)

  // Request directives.
  bool onlyIfCached = false;
  bool maxStale = false;                 ///< present, with or without a value
  std::optional<int64_t> maxStaleValue;  ///< absent value: any staleness accepted
  std::optional<int64_t> minFresh;

  /// True when the message had no Cache-Control field at all (matters for
  /// Pragma: no-cache, RFC 9111 §5.4).
  bool absent = true;
};

/// Parses every Cache-Control field line of `headers` (list syntax,
/// case-insensitive names, token or quoted-string arguments). Never fails:
/// unknown directives are ignored, malformed members are skipped.
CacheControl parseCacheControl(const http::HeaderMap& headers);

/// Request-side no-cache: Cache-Control: no-cache, or Pragma: no-cache when
/// the request carries no Cache-Control (RFC 9111 §5.4, HTTP/1.0 clients).
bool requestWantsNoCache(const http::HeaderMap& requestHeaders, const CacheControl& requestCc);

/// Parses delta-seconds (RFC 9111 §1.2.2): digits only, clamped to
/// kDeltaSecondsMax; nullopt when not a number.
std::optional<int64_t> parseDeltaSeconds(std::string_view text);

}  // namespace portcullis::cache::policy
