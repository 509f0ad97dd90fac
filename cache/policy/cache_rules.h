#pragma once
// Admin rules that shape the cache beyond what origins say:
//   - refresh rules ([[cache.refresh]]): heuristic freshness for responses
//     without explicit expiry, per URL pattern (like Squid's refresh_pattern,
//     but never overriding what the origin said explicitly);
//   - cache identities ([[cache.alias]]): one cache key for the same path on
//     a set of CDN host names (like lancache's per-service cache key).
// Pure: built by daemon/config at load, then read-only and shared by every
// worker through the config snapshot.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/policy/stored_response.h"
#include "daemon/http/uri.h"

namespace portcullis::cache::policy {

/// A host name pattern, as acl::parseHostPattern reads it (config converts).
struct HostGlob {
  std::string name;         ///< lower case, no trailing dot; "" with `any`
  bool subdomains = false;  ///< "*.name" / ".name": the name and every subdomain
  bool any = false;         ///< "*": every host
  /// `host` lower case without trailing dot (http::Target::host is).
  bool matches(std::string_view host) const;
  /// As the admin would write it: "name", "*.name" or "*".
  std::string text() const;
};

/// One [[cache.refresh]] entry: which URLs, and the heuristic they get.
struct RefreshRule {
  std::vector<HostGlob> hosts;  ///< empty: any host
  std::string path = "*";       ///< glob on the path without query ('*' = any run of bytes)
  Heuristic heuristic;
  std::string where;  ///< "file:line:col" of the rule (explain, logs)
};

/// One [[cache.alias]] entry: these hosts share the cache identity.
struct CacheAlias {
  std::vector<HostGlob> hosts;
  std::string identity;  ///< a DNS label: [a-z0-9-], 1-63 bytes
  std::string where;     ///< "file:line:col" of the entry
};

/// The host an aliased key uses in place of the real one: identity +
/// kAliasDomain. ".invalid" (RFC 6761 §6.4) is never a real name, so an
/// aliased key cannot collide with a real host's key.
inline constexpr std::string_view kAliasDomain = ".cache-alias.invalid";

/// Anchored glob: '*' matches any run of bytes (also '/'), every other byte
/// itself. No '?' or classes: paths are full of characters that would need
/// escaping.
bool globMatch(std::string_view pattern, std::string_view text);

/// Every refresh rule and alias of a config, in file order.
struct CacheRules {
  std::vector<RefreshRule> refresh;
  std::vector<CacheAlias> aliases;

  /// The first refresh rule matching `target` (host and path), or nullptr.
  const RefreshRule* refreshFor(const http::Target& target) const;
  /// The alias whose matching pattern is most specific (an exact name over
  /// "*.name", a longer name over a shorter one), or nullptr.
  const CacheAlias* aliasFor(std::string_view host) const;
  /// The primary cache key of `target`: http::Target::normalizedUri(), with
  /// the host replaced by "<identity>.cache-alias.invalid" when an alias
  /// matches. Scheme, port and path stay.
  std::string primaryKey(const http::Target& target) const;
};

}  // namespace portcullis::cache::policy
