#include "cache/policy/cache_control.h"

#include <string_view>

namespace portcullis::cache::policy {
namespace {

bool isWs(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isWs(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWs(s.back())) s.remove_suffix(1);
  return s;
}

struct Directive {
  std::string_view name;
  std::string value;  // unquoted
  bool hasValue = false;
};

// Splits one field value into directives, honouring quoted strings so that
// a comma inside no-cache="a, b" does not end the member (RFC 9110 §5.6.4).
void splitDirectives(std::string_view field, std::vector<Directive>& out) {
  size_t i = 0;
  while (i < field.size()) {
    size_t start = i;
    while (i < field.size() && field[i] != ',' && field[i] != '=') ++i;
    Directive d;
    d.name = trim(field.substr(start, i - start));
    if (i < field.size() && field[i] == '=') {
      ++i;
      d.hasValue = true;
      while (i < field.size() && isWs(field[i])) ++i;
      if (i < field.size() && field[i] == '"') {
        ++i;
        while (i < field.size() && field[i] != '"') {
          if (field[i] == '\\' && i + 1 < field.size()) ++i;
          d.value.push_back(field[i]);
          ++i;
        }
        if (i < field.size()) ++i;  // closing quote
        while (i < field.size() && field[i] != ',') ++i;
      } else {
        size_t vstart = i;
        while (i < field.size() && field[i] != ',') ++i;
        d.value = std::string(trim(field.substr(vstart, i - vstart)));
      }
    }
    if (i < field.size() && field[i] == ',') ++i;
    if (!d.name.empty()) out.push_back(std::move(d));
  }
}

// RFC 9111 §4.2.1: an invalid or duplicated-and-conflicting freshness value
// means "treat as stale", i.e. zero. For request-side limits the same
// reading (0) is also the conservative one.
void setDelta(std::optional<int64_t>& slot, const Directive& d) {
  std::optional<int64_t> v = d.hasValue ? parseDeltaSeconds(d.value) : std::nullopt;
  if (!v) {
    slot = 0;
  } else if (slot && *slot != *v) {
    slot = 0;
  } else {
    slot = v;
  }
}

void apply(CacheControl& cc, const Directive& d) {
  using http::equalsIgnoreCase;
  const std::string_view n = d.name;
  if (equalsIgnoreCase(n, "no-store")) cc.noStore = true;
  else if (equalsIgnoreCase(n, "no-cache")) cc.noCache = true;
  else if (equalsIgnoreCase(n, "no-transform")) cc.noTransform = true;
  else if (equalsIgnoreCase(n, "max-age")) setDelta(cc.maxAge, d);
  else if (equalsIgnoreCase(n, "s-maxage")) setDelta(cc.sMaxAge, d);
  else if (equalsIgnoreCase(n, "public")) cc.isPublic = true;
  else if (equalsIgnoreCase(n, "private")) cc.isPrivate = true;
  else if (equalsIgnoreCase(n, "must-revalidate")) cc.mustRevalidate = true;
  else if (equalsIgnoreCase(n, "proxy-revalidate")) cc.proxyRevalidate = true;
  else if (equalsIgnoreCase(n, "must-understand")) cc.mustUnderstand = true;
  else if (equalsIgnoreCase(n, "immutable")) cc.immutable = true;
  else if (equalsIgnoreCase(n, "stale-while-revalidate")) setDelta(cc.staleWhileRevalidate, d);
  else if (equalsIgnoreCase(n, "stale-if-error")) setDelta(cc.staleIfError, d);
  else if (equalsIgnoreCase(n, "only-if-cached")) cc.onlyIfCached = true;
  else if (equalsIgnoreCase(n, "min-fresh")) setDelta(cc.minFresh, d);
  else if (equalsIgnoreCase(n, "max-stale")) {
    cc.maxStale = true;
    if (d.hasValue) {
      // A malformed max-stale value grants no extra staleness.
      auto v = parseDeltaSeconds(d.value);
      cc.maxStaleValue = v ? *v : 0;
    }
  }
}

}  // namespace

std::optional<int64_t> parseDeltaSeconds(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v < kDeltaSecondsMax) v = v * 10 + (c - '0');
  }
  return v > kDeltaSecondsMax ? kDeltaSecondsMax : v;
}

CacheControl parseCacheControl(const http::HeaderMap& headers) {
  CacheControl cc;
  std::vector<Directive> directives;
  for (const auto& field : headers.fields()) {
    if (!http::equalsIgnoreCase(field.name, "Cache-Control")) continue;
    cc.absent = false;
    splitDirectives(field.value, directives);
  }
  for (const auto& d : directives) apply(cc, d);
  return cc;
}

bool requestWantsNoCache(const http::HeaderMap& requestHeaders, const CacheControl& requestCc) {
  if (requestCc.noCache) return true;
  // RFC 9111 §5.4: Pragma only counts when Cache-Control is absent.
  return requestCc.absent && requestHeaders.hasToken("Pragma", "no-cache");
}

}  // namespace portcullis::cache::policy
