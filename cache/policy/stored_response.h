#pragma once
// What the policy needs to know about a stored response.

#include <cstdint>
#include <string>

#include "daemon/base/clock.h"
#include "daemon/http/header_map.h"

namespace portcullis::cache::policy {

/// A stored response's head plus the two clocks of RFC 9111 §4.2.3.
struct StoredResponse {
  int status = 0;
  std::string reason;
  http::HeaderMap headers;  ///< as stored (hop-by-hop fields already removed)
  SystemTime requestTime;   ///< when the request that produced it was sent upstream
  SystemTime responseTime;  ///< when its head was received
};

/// Knobs of a shared cache's policy; the proxy fills them from config.
struct PolicyOptions {
  /// Heuristic freshness (RFC 9111 §4.2.2): this fraction of
  /// (Date - Last-Modified)...
  double heuristicFraction = 0.1;
  /// ...bounded above by this many seconds.
  int64_t heuristicMaxSeconds = 86400;
  /// Serve a stale entry when the origin cannot be reached (connect failure,
  /// timeout, 5xx) even without stale-if-error, unless the response forbids
  /// stale use (must-revalidate, proxy-revalidate, s-maxage, no-cache).
  bool serveStaleOnOriginError = false;
  /// Store responses that carry Set-Cookie only when they are explicitly
  /// public (Cache-Control: public or s-maxage). RFC 9111 allows storing
  /// them, but a shared proxy serving one user's cookie to another is the
  /// classic cache-poisoning accident, so the default is cautious.
  bool storeSetCookieOnlyIfPublic = true;
};

}  // namespace portcullis::cache::policy
