#include "cache/policy/cache_rules.h"

namespace portcullis::cache::policy {

bool HostGlob::matches(std::string_view host) const {
  if (any) return true;
  if (host == name) return true;
  return subdomains && host.size() > name.size() && host.ends_with(name) &&
         host[host.size() - name.size() - 1] == '.';
}

std::string HostGlob::text() const {
  if (any) return "*";
  return subdomains ? "*." + name : name;
}

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative with one backtrack point (the last '*'): linear in practice,
  // never exponential, whatever the pattern.
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const RefreshRule* CacheRules::refreshFor(const http::Target& target) const {
  std::string_view path = target.pathAndQuery;
  path = path.substr(0, path.find('?'));
  if (path.empty()) path = "/";
  for (const RefreshRule& rule : refresh) {
    bool hostOk = rule.hosts.empty();
    for (const HostGlob& h : rule.hosts) hostOk = hostOk || h.matches(target.host);
    if (hostOk && globMatch(rule.path, path)) return &rule;  // first match, like Squid
  }
  return nullptr;
}

const CacheAlias* CacheRules::aliasFor(std::string_view host) const {
  const CacheAlias* best = nullptr;
  // Specificity: exact beats wildcard, then the longer name.
  std::pair<bool, size_t> bestRank{false, 0};
  for (const CacheAlias& alias : aliases) {
    for (const HostGlob& h : alias.hosts) {
      if (!h.matches(host)) continue;
      std::pair<bool, size_t> rank{!h.subdomains && !h.any, h.name.size()};
      if (best == nullptr || rank > bestRank) {
        best = &alias;
        bestRank = rank;
      }
    }
  }
  return best;
}

std::string CacheRules::primaryKey(const http::Target& target) const {
  const CacheAlias* alias = aliasFor(target.host);
  if (alias == nullptr) return target.normalizedUri();
  http::Target keyed = target;
  keyed.host = alias->identity + std::string(kAliasDomain);
  keyed.hostIsIpLiteral = false;
  keyed.hostIsIpv6 = false;
  return keyed.normalizedUri();
}

}  // namespace portcullis::cache::policy
