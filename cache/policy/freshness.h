#pragma once
// Storability (RFC 9111 §3), freshness lifetime (§4.2.1, §4.2.2), age
// (§4.2.3) and whether a stored response may be used for a request (§4,
// §5.2.1, RFC 5861). Pure: every function takes `now`.

#include <cstdint>

#include "cache/policy/cache_control.h"
#include "cache/policy/stored_response.h"
#include "daemon/base/clock.h"
#include "daemon/http/message.h"

namespace portcullis::cache::policy {

/// Why a response was not stored (for logs and tests).
enum class StoreVerdict {
  kStorable,
  kMethodNotCacheable,   ///< only GET responses are stored
  kStatusNotCacheable,   ///< not final/understood, or 206/304 (we never combine partials)
  kNoStore,              ///< no-store in request or response
  kPrivate,              ///< private: shared caches must not store (§5.2.2.7)
  kAuthorization,        ///< request had Authorization, response not marked shareable (§3.5)
  kNoFreshnessInfo,      ///< no explicit freshness and status not heuristically cacheable
  kVaryStar,             ///< Vary: * can never be matched (§4.1)
  kSetCookie,            ///< Set-Cookie on a response not explicitly public (see PolicyOptions)
};

/// RFC 9110 §15.1: status codes that are heuristically cacheable. 206 is
/// listed by the RFC but we do not store partial content.
bool isHeuristicallyCacheableStatus(int status);

/// RFC 9111 §3: may a shared cache store this response to this request?
StoreVerdict checkStorable(const http::RequestHead& request, const http::ResponseHead& response,
                           const PolicyOptions& options = {});
inline bool isStorable(const http::RequestHead& request, const http::ResponseHead& response,
                       const PolicyOptions& options = {}) {
  return checkStorable(request, response, options) == StoreVerdict::kStorable;
}

/// Freshness lifetime in seconds (RFC 9111 §4.2.1): s-maxage, max-age,
/// Expires - Date, then the heuristic of §4.2.2 (a fraction of the time since
/// Last-Modified, only for heuristically cacheable statuses or public; an
/// admin rule's heuristic instead when options.refresh is set). Explicit
/// freshness always wins over any heuristic. Zero when nothing applies.
int64_t freshnessLifetime(const StoredResponse& stored, const PolicyOptions& options = {});

/// True when the lifetime above came from the heuristic (no explicit
/// expiration). Useful for logs; RFC 9111 dropped the Warning 113.
bool usesHeuristicFreshness(const StoredResponse& stored);

/// current_age of RFC 9111 §4.2.3 in whole seconds, never negative.
int64_t currentAge(const StoredResponse& stored, SystemTime now);

/// How a stored response may be used for a request.
enum class Usability {
  kFresh,           ///< serve as is (with Age)
  kStaleServable,   ///< stale but allowed (request max-stale, or stale-while-revalidate:
                    ///< see Evaluation::revalidateInBackground)
  kMustRevalidate,  ///< send a conditional request upstream before use
};

struct Evaluation {
  Usability usability = Usability::kMustRevalidate;
  int64_t age = 0;        ///< current age, the value of the Age field to send
  int64_t lifetime = 0;   ///< freshness lifetime
  /// stale-while-revalidate applied: serve now and revalidate asynchronously.
  bool revalidateInBackground = false;
  /// If revalidation fails (origin unreachable or 5xx) the stale response may
  /// be served (RFC 5861 §4 stale-if-error, or PolicyOptions::serveStaleOnOriginError).
  bool staleOnErrorAllowed = false;
  /// Request had only-if-cached: when usability is kMustRevalidate, answer
  /// 504 instead of contacting the origin (RFC 9111 §5.2.1.7).
  bool onlyIfCached = false;
};

/// Decides how `stored` may answer `request` at `now` (RFC 9111 §4.2, §4.3,
/// §5.2.1 request directives, §5.2.2 response directives, RFC 5861). The
/// caller has already matched the key and Vary (see vary.h). A stored head
/// that checkStorable would now refuse for its response fields alone
/// (no-store, private, Vary: *, Set-Cookie...) is always kMustRevalidate,
/// never stale on error.
Evaluation evaluate(const http::RequestHead& request, const StoredResponse& stored, SystemTime now,
                    const PolicyOptions& options = {});

}  // namespace portcullis::cache::policy
