#include "cache/policy/freshness.h"

#include <algorithm>
#include <chrono>

#include "cache/policy/http_date.h"

namespace portcullis::cache::policy {
namespace {

std::optional<int64_t> headerDate(const http::HeaderMap& headers, std::string_view name) {
  auto v = headers.get(name);
  if (!v) return std::nullopt;
  return parseHttpDate(*v);
}

// RFC 9111 §4.2.3: date_value is the Date field; a response without a valid
// one is treated as if it had Date = response_time (RFC 9110 §6.6.1 lets a
// recipient cache add one).
int64_t dateValue(const StoredResponse& stored) {
  auto d = headerDate(stored.headers, "Date");
  return d ? *d : toUnixSeconds(stored.responseTime);
}

// Statuses whose semantics we understand well enough to store with
// explicit freshness under must-understand (RFC 9111 §5.2.2.3).
bool isUnderstoodStatus(int status) {
  return isHeuristicallyCacheableStatus(status) || status == 302 || status == 303 ||
         status == 307;
}

// The part of checkStorable (RFC 9111 §3) that depends on the response
// alone. evaluate() applies it to stored heads too: an entry whose head says
// no-store or private (a 304 merged into it by an older version, say) is
// never served without asking the origin.
StoreVerdict responseVerdict(int status, const http::HeaderMap& headers, const CacheControl& res,
                             const PolicyOptions& options) {
  // Final status only; 206 would need range combination (§3.4), 304 is not
  // a representation.
  if (status < 200 || status > 599 || status == 206 || status == 304) {
    return StoreVerdict::kStatusNotCacheable;
  }
  if (res.mustUnderstand && !isUnderstoodStatus(status)) return StoreVerdict::kStatusNotCacheable;
  if (res.noStore) return StoreVerdict::kNoStore;                     // §5.2.2.5
  if (res.isPrivate) return StoreVerdict::kPrivate;                   // §5.2.2.7
  if (headers.hasToken("Vary", "*")) return StoreVerdict::kVaryStar;  // §4.1
  if (options.storeSetCookieOnlyIfPublic && headers.has("Set-Cookie") &&
      !(res.isPublic || res.sMaxAge)) {
    return StoreVerdict::kSetCookie;
  }
  const bool explicitFreshness =
      res.isPublic || res.maxAge || res.sMaxAge || headers.has("Expires");
  if (!explicitFreshness && !isHeuristicallyCacheableStatus(status)) {
    return StoreVerdict::kNoFreshnessInfo;
  }
  return StoreVerdict::kStorable;
}

// An admin's refresh rule (Squid's refresh_pattern): percent of the age the
// object had when fetched, within [min, max]; without Last-Modified (or with
// one in the future) just min.
int64_t ruleHeuristic(const Heuristic& h, std::optional<int64_t> lastModified, int64_t date) {
  const int64_t since = lastModified ? date - *lastModified : 0;
  if (since <= 0) return std::min(h.minSeconds, h.maxSeconds);
  const double byPercent = static_cast<double>(since) * h.percent / 100.0;
  const auto capped = static_cast<int64_t>(std::min(byPercent, static_cast<double>(h.maxSeconds)));
  return std::clamp<int64_t>(capped, std::min(h.minSeconds, h.maxSeconds), h.maxSeconds);
}

}  // namespace

bool isHeuristicallyCacheableStatus(int status) {
  switch (status) {
    case 200: case 203: case 204: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
      return true;
    default:
      return false;
  }
}

StoreVerdict checkStorable(const http::RequestHead& request, const http::ResponseHead& response,
                           const PolicyOptions& options) {
  // RFC 9111 §3: the request method must be understood and cacheable; we
  // store GET only (HEAD is answered from a stored GET).
  if (request.methodKind != http::Method::kGet) return StoreVerdict::kMethodNotCacheable;
  const CacheControl res = parseCacheControl(response.headers);
  const StoreVerdict verdict = responseVerdict(response.status, response.headers, res, options);
  if (verdict != StoreVerdict::kStorable) return verdict;
  if (parseCacheControl(request.headers).noStore) return StoreVerdict::kNoStore;  // §5.2.1.5
  // §3.5: a shared cache stores responses to authenticated requests only
  // when the origin says they are shareable.
  if (request.headers.has("Authorization") &&
      !(res.mustRevalidate || res.isPublic || res.sMaxAge)) {
    return StoreVerdict::kAuthorization;
  }
  return StoreVerdict::kStorable;
}

bool usesHeuristicFreshness(const StoredResponse& stored) {
  const CacheControl cc = parseCacheControl(stored.headers);
  return !cc.sMaxAge && !cc.maxAge && !stored.headers.has("Expires");
}

int64_t freshnessLifetime(const StoredResponse& stored, const PolicyOptions& options) {
  const CacheControl cc = parseCacheControl(stored.headers);
  // RFC 9111 §4.2.1: first match wins; a shared cache honours s-maxage.
  if (cc.sMaxAge) return *cc.sMaxAge;
  if (cc.maxAge) return *cc.maxAge;
  if (stored.headers.has("Expires")) {
    // §5.3: an invalid Expires (e.g. "0") means already expired.
    auto expires = headerDate(stored.headers, "Expires");
    if (!expires) return 0;
    return std::max<int64_t>(0, *expires - dateValue(stored));
  }
  // §4.2.2: heuristic only for heuristically cacheable statuses or public.
  if (!isHeuristicallyCacheableStatus(stored.status) && !cc.isPublic) return 0;
  auto lastModified = headerDate(stored.headers, "Last-Modified");
  if (options.refresh) return ruleHeuristic(*options.refresh, lastModified, dateValue(stored));
  if (!lastModified) return 0;
  const int64_t since = dateValue(stored) - *lastModified;
  if (since <= 0) return 0;
  const auto h = static_cast<int64_t>(static_cast<double>(since) * options.heuristicFraction);
  return std::clamp<int64_t>(h, 0, options.heuristicMaxSeconds);
}

int64_t currentAge(const StoredResponse& stored, SystemTime now) {
  const int64_t responseTime = toUnixSeconds(stored.responseTime);
  const int64_t requestTime = toUnixSeconds(stored.requestTime);
  int64_t ageValue = 0;
  if (auto a = stored.headers.get("Age")) {
    // §5.1: of a list ("7200, 0") the first member counts; an invalid Age
    // is ignored.
    std::string_view first = a->substr(0, a->find(','));
    while (!first.empty() && (first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
    ageValue = parseDeltaSeconds(first).value_or(0);
  }
  // RFC 9111 §4.2.3.
  const int64_t apparentAge = std::max<int64_t>(0, responseTime - dateValue(stored));
  const int64_t responseDelay = std::max<int64_t>(0, responseTime - requestTime);
  const int64_t correctedAgeValue = ageValue + responseDelay;
  const int64_t correctedInitialAge = std::max(apparentAge, correctedAgeValue);
  const int64_t residentTime = std::max<int64_t>(0, toUnixSeconds(now) - responseTime);
  return std::min(correctedInitialAge + residentTime, kDeltaSecondsMax);
}

Evaluation evaluate(const http::RequestHead& request, const StoredResponse& stored, SystemTime now,
                    const PolicyOptions& options) {
  const CacheControl req = parseCacheControl(request.headers);
  const CacheControl res = parseCacheControl(stored.headers);
  Evaluation ev;
  ev.age = currentAge(stored, now);
  ev.lifetime = freshnessLifetime(stored, options);
  ev.onlyIfCached = req.onlyIfCached;
  const int64_t staleness = std::max<int64_t>(0, ev.age - ev.lifetime);
  // §3, §4.3.4: a stored head that a shared cache could not store now
  // (no-store, private, Vary: *, Set-Cookie, ...) is used for nobody, not
  // even stale on an error: the origin is asked, and the refresh either
  // makes it storable again or removes it.
  if (responseVerdict(stored.status, stored.headers, res, options) != StoreVerdict::kStorable) {
    return ev;
  }

  // §4.2.4 and §5.2.2.2/.8/.10: these forbid serving a stale response, even
  // on errors. no-cache (§5.2.2.4) forbids any use without validation.
  const bool staleForbidden =
      res.mustRevalidate || res.proxyRevalidate || res.sMaxAge.has_value() || res.noCache;
  ev.staleOnErrorAllowed =
      !staleForbidden && (options.serveStaleOnOriginError ||
                          (res.staleIfError && staleness <= *res.staleIfError) ||
                          (req.staleIfError && staleness <= *req.staleIfError));

  if (res.noCache || requestWantsNoCache(request.headers, req)) return ev;  // must revalidate
  // §5.2.1.1: the client does not want anything older than max-age.
  if (req.maxAge && ev.age > *req.maxAge) return ev;
  bool fresh = ev.lifetime > ev.age;
  // §5.2.1.3: fresh for at least min-fresh more seconds.
  if (req.minFresh && ev.lifetime - ev.age < *req.minFresh) {
    fresh = false;
    if (ev.lifetime > ev.age) return ev;  // fresh but not enough: validate
  }
  if (fresh) {
    ev.usability = Usability::kFresh;
    return ev;
  }
  if (staleForbidden) return ev;
  // §5.2.1.2: max-stale without a value accepts any staleness.
  if (req.maxStale && (!req.maxStaleValue || staleness <= *req.maxStaleValue)) {
    ev.usability = Usability::kStaleServable;
    return ev;
  }
  // RFC 5861 §3.
  if (res.staleWhileRevalidate && staleness <= *res.staleWhileRevalidate) {
    ev.usability = Usability::kStaleServable;
    ev.revalidateInBackground = true;
  }
  return ev;
}

}  // namespace portcullis::cache::policy
