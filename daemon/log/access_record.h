#pragma once
// One line of the access log: what happened to one request or one CONNECT
// tunnel. Filled by the proxy when the transaction ends, then formatted as
// JSON (the default), Squid native or Apache combined. Formatting is pure.

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/base/clock.h"

namespace portcullis::log {

/// How the cache took part in a response.
enum class CacheResult {
  kNone,         ///< not cacheable traffic: CONNECT, denied, errors
  kHit,          ///< served fresh from the cache
  kMiss,         ///< fetched from the origin (and maybe stored)
  kRevalidated,  ///< stale copy confirmed by the origin (304) and served
  kStale,        ///< stale copy served because the origin failed
  kCollapsed,    ///< joined another client's in-flight fetch of the same key
  kBypass,       ///< cache deliberately not used (no-store, method, client rule)
  kPartial,      ///< a sliced object: some slices from the cache, some fetched
};

/// Upper-case name as logged: "HIT", "MISS", ... "NONE".
std::string_view toString(CacheResult result);

/// True for the results where the response body did not come from an
/// upstream fetch made for this request (HIT, REVALIDATED, STALE, COLLAPSED).
bool servedFromCache(CacheResult result);

enum class AccessDecision { kAllow, kDeny };

/// Everything one access-log line says. Plain data; copyable.
struct AccessRecord {
  SystemTime start;            ///< when the request head was complete ("ts")
  std::string client;          ///< "ip:port", "[v6]:port"
  std::string balancer;        ///< the load balancer that relayed it (PROXY protocol); empty = none
  std::string user;            ///< authenticated user; empty = none (logged null)
  std::string method;          ///< as sent by the client
  std::string url;             ///< absolute URL, or "host:port" for CONNECT
  int status = 0;              ///< status sent to the client; 0 = none sent
  uint64_t bytesIn = 0;        ///< bytes received from the client (head + body)
  uint64_t bytesOut = 0;       ///< bytes sent to the client (head + body)
  uint64_t upstreamBytes = 0;  ///< bytes received from the upstream
  CacheResult cache = CacheResult::kNone;
  /// Sliced storage: "sliced" (served from slices), "unsupported" (the
  /// origin ignored Range or gave no length/validators: today's path),
  /// "changed" (the object changed under a sliced read). Static storage;
  /// empty = null (not a sliced request).
  std::string_view slice;
  AccessDecision decision = AccessDecision::kAllow;
  std::string rule;       ///< name of the deciding rule
  std::string ruleWhere;  ///< "file:line" of that rule; empty for built-ins
  /// A `mode = "log"` rule matched: what it would have decided ("deny" or
  /// "allow", static storage) and its name; logged as "would_deny" or
  /// "would_allow" only when set.
  std::string_view wouldVerdict;
  std::string wouldRule;
  /// The addresses the host resolved to (an IP literal: itself), which the
  /// rules checked, comma-separated; logged as the array "addresses" only
  /// when set (a replay decides on them without resolving again).
  std::string addresses;
  double durationMs = 0;  ///< head complete to last byte sent
  std::string upstream;   ///< address actually connected, "ip:port"; empty = none
  std::string parent;     ///< the [[parent]] the request went through; empty = direct (null)
  std::string error;      ///< what went wrong; empty = nothing
  std::string sni;        ///< CONNECT: the ClientHello's server name; empty = none read
  std::string alpn;       ///< CONNECT: its ALPN protocols, "h2,http/1.1"; empty = none
  /// Why the exchange ended ("completed", "denied_by_rule", "dns_timeout", ...:
  /// proxy::Termination's names); points at static storage. Empty = null.
  std::string_view termination;
  /// "transparent" for a connection the kernel redirected to us (points at
  /// static storage); empty = the client used the proxy explicitly.
  std::string_view mode;
  // Only the combined format uses these; empty = "-".
  std::string referer;
  std::string userAgent;
};

/// RFC 3339 UTC with milliseconds: "2026-11-28T20:50:49.123Z".
std::string formatTimestamp(SystemTime t);

class JsonObject;

/// Adds every access-log field to `obj` (shared by the log and /status).
void appendAccessFields(JsonObject& obj, const AccessRecord& r);

/// One JSON object, no trailing newline. Always contains every key:
/// ts client user method url status bytes_in bytes_out upstream_bytes cache
/// slice decision rule rule_where duration_ms upstream parent error
/// termination sni alpn mode ("explicit" or "transparent"). Optional ones
/// (user, slice, rule_where, upstream, parent, error, termination, sni,
/// alpn) are null when empty. Only when set: balancer, would_deny or
/// would_allow, addresses.
std::string formatJson(const AccessRecord& r);

/// Squid native format ("time.ms elapsed client code/status bytes method
/// URL user hierarchy/peer type"), no trailing newline. Spaces and control
/// bytes in fields are %-encoded so the columns stay parseable.
std::string formatSquid(const AccessRecord& r);

/// Apache/NCSA combined format, no trailing newline; quotes, backslashes
/// and control bytes are escaped as \" \\ \xHH the way Apache does.
std::string formatCombined(const AccessRecord& r);

}  // namespace portcullis::log
