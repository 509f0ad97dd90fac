#pragma once
// Invalidation by unsafe methods (RFC 9111 §4.4) and the primary cache key.

#include <string>
#include <vector>

#include "cache/policy/cache_rules.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"

namespace portcullis::cache::policy {

/// The primary cache key of a request target: the normalised absolute URI
/// (scheme and host lower-case, default port dropped), as
/// http::Target::normalizedUri() builds it. GET and HEAD share it.
std::string primaryKey(const http::Target& target);
/// The same under the admin's cache identities (CacheRules::primaryKey);
/// `rules` may be null (no aliases).
std::string primaryKey(const http::Target& target, const CacheRules* rules);

/// RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe.
bool isSafeMethod(http::Method method);

/// Keys to invalidate after forwarding `request` to `target` and receiving
/// `response` (RFC 9111 §4.4): for an unsafe method with a non-error
/// (2xx/3xx) response, the target URI plus the URIs in Location and
/// Content-Location when they share the target's origin (scheme, host,
/// port). Relative references are resolved against the target. Empty for
/// safe methods and error responses. Keys are built under `rules`' cache
/// identities (null: none), as lookups build them.
std::vector<std::string> invalidationKeys(const http::RequestHead& request,
                                          const http::Target& target,
                                          const http::ResponseHead& response,
                                          const CacheRules* rules = nullptr);

}  // namespace portcullis::cache::policy
