#pragma once
// Validation (RFC 9111 §4.3): conditional requests to the origin, updating a
// stored response from a 304, and answering clients' own conditional
// requests from the cache. Pure.

#include <string_view>

#include "cache/policy/stored_response.h"
#include "daemon/base/clock.h"
#include "daemon/http/message.h"

namespace portcullis::cache::policy {

/// The response header fields a cache keeps (RFC 9111 §3.1): drops
/// Connection and the fields it names, Proxy-Connection, Keep-Alive, TE,
/// Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate,
/// Proxy-Authentication-Info, Proxy-Authorization.
http::HeaderMap headersForStorage(const http::HeaderMap& responseHeaders);

/// Sets If-None-Match (from the stored ETag) and If-Modified-Since (from the
/// stored Last-Modified) on a request about to be sent upstream to validate
/// `stored` (§4.3.1), replacing any conditional fields the client sent
/// (If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since,
/// If-Range): the cache answers the client itself afterwards.
/// Returns false when the stored response has no validator, in which case
/// the request is left unconditional (a full fetch).
bool addRevalidationHeaders(http::HeaderMap& upstreamRequestHeaders, const StoredResponse& stored);

/// §4.3.4: does this 304 describe `stored`? False when both carry ETags that
/// differ (weak comparison), or when the 304 has no ETag but both have
/// Last-Modified values that differ. The caller then discards the stored
/// response and refetches.
bool notModifiedMatches(const StoredResponse& stored, const http::ResponseHead& notModified);

/// §3.2/§4.3.4: the stored response refreshed by a 304, as it may be
/// stored for everyone: every field of the 304 replaces the stored fields of
/// that name, except the ones excluded from storage, the ones describing the
/// stored content (Content-Length, -Encoding, -Range, -MD5) and the
/// client-only ones (isClientOnlyField); the clocks become those of the
/// validation exchange (§4.2.3). The caller re-checks the result with
/// checkStorable (freshness.h): the 304 may have made it unstorable.
StoredResponse mergeNotModified(const StoredResponse& stored, const http::ResponseHead& notModified,
                                SystemTime requestTime, SystemTime responseTime);

/// Set-Cookie and Set-Cookie2: fields a 304 sends to the one client whose
/// request was validated, never merged into the stored response.
bool isClientOnlyField(std::string_view name);

/// The response for the one client whose request a 304 answered:
/// mergeNotModified, then the 304's client-only fields replacing the stored
/// ones of those names (§4.3.4). Never store the result.
StoredResponse mergeForClient(const StoredResponse& stored, const http::ResponseHead& notModified,
                              SystemTime requestTime, SystemTime responseTime);

/// How to answer a client's own conditional GET/HEAD from a usable stored
/// response (RFC 9111 §4.3.2, RFC 9110 §13.2.2 order of evaluation).
enum class ClientConditional {
  kNone,                ///< no condition applies: send the stored response
  kNotModified,         ///< answer 304 (see buildNotModified)
  kPreconditionFailed,  ///< If-Match / If-Unmodified-Since failed: answer 412
};
ClientConditional evaluateClientConditional(const http::RequestHead& request,
                                            const StoredResponse& stored);

/// The 304 head for a client, with the fields RFC 9110 §15.4.5 requires
/// (Cache-Control, Content-Location, Date, ETag, Expires, Vary, plus
/// Last-Modified) copied from the stored response and `Age: age`.
http::ResponseHead buildNotModified(const StoredResponse& stored, int64_t age);

/// Weak comparison of two entity-tags (RFC 9110 §8.8.3.2): W/ prefixes are
/// ignored, the opaque-tags must match exactly.
bool weakEtagMatch(std::string_view a, std::string_view b);

/// True when an If-None-Match / If-Match list value contains an entity-tag
/// matching `etag` ("*" matches any). `weak` selects weak comparison
/// (If-None-Match) or strong (If-Match).
bool etagListMatches(std::string_view listValue, std::string_view etag, bool weak);

}  // namespace portcullis::cache::policy
