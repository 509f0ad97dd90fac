#pragma once
// What the policy needs to know about a stored response.

#include <cstdint>
#include <optional>
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

/// Heuristic freshness an admin rule gives (RFC 9111 §4.2.2 leaves the
/// heuristic to the cache): `percent` of (Date - Last-Modified), at least
/// `minSeconds`, at most `maxSeconds`; `minSeconds` when there is no
/// Last-Modified (Squid's refresh_pattern min/percent/max).
struct Heuristic {
  int64_t minSeconds = 0;
  int64_t maxSeconds = 0;  ///< >= minSeconds (config validates)
  double percent = 0;
};

/// Knobs of a shared cache's policy; the proxy fills them from config.
struct PolicyOptions {
  /// Heuristic freshness (RFC 9111 §4.2.2): this fraction of
  /// (Date - Last-Modified)...
  double heuristicFraction = 0.1;
  /// ...bounded above by this many seconds.
  int64_t heuristicMaxSeconds = 86400;
  /// The heuristic of the [[cache.refresh]] rule matching the request's URL,
  /// replacing the two above. Applies only where a heuristic may (no
  /// explicit expiry; heuristically cacheable status or public).
  std::optional<Heuristic> refresh;
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
