#include "daemon/http/uri.h"

#include <arpa/inet.h>

#include <algorithm>

#include "daemon/http/char_class.h"
#include "daemon/http/header_map.h"

namespace portcullis::http {

namespace {

constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxLabelLength = 63;

Error uriError(std::string message) {
  return makeError(std::move(message), 400);
}

/// Strict dotted-quad: four decimal parts 0-255 without leading zeros.
/// Leading zeros are refused because some resolvers read them as octal.
bool isDottedQuad(std::string_view s) {
  int parts = 0;
  size_t k = 0;
  while (parts < 4) {
    const size_t start = k;
    unsigned value = 0;
    while (k < s.size() && isDigit(s[k]) && k - start < 3)
      value = value * 10 + static_cast<unsigned>(s[k++] - '0');
    const size_t len = k - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
    ++parts;
    if (parts < 4) {
      if (k >= s.size() || s[k] != '.') return false;
      ++k;
    }
  }
  return k == s.size();
}

/// Fills host, hostIsIpLiteral and hostIsIpv6 from the host part of an authority.
Result<void> parseHost(std::string_view host, bool bracketed, Target& t) {
  if (host.empty()) return uriError("empty host");
  if (bracketed) {
    // RFC 3986 §3.2.2: IP-literal. Only IPv6address; no zone id, no IPvFuture.
    char buf[64];
    unsigned char addr[16];
    if (host.size() >= sizeof(buf)) return uriError("invalid IPv6 literal");
    for (char c : host) {
      if (!isHexDigit(c) && c != ':' && c != '.') return uriError("invalid IPv6 literal");
    }
    std::copy(host.begin(), host.end(), buf);
    buf[host.size()] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1) return uriError("invalid IPv6 literal");
    // Canonical text (RFC 5952) so equal addresses give equal cache keys.
    char canon[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, addr, canon, sizeof(canon)) == nullptr)
      return uriError("invalid IPv6 literal");
    t.host = canon;
    t.hostIsIpLiteral = true;
    t.hostIsIpv6 = true;
    return {};
  }
  // reg-name: we accept only letters, digits, '-', '.', '_' (a subset of
  // RFC 3986 §3.2.2): percent-encoding and sub-delims have no place in a DNS
  // name and only serve to make two parsers disagree about the host.
  if (host.size() > kMaxHostLength + 1) return uriError("host name too long");
  std::string lower;
  lower.reserve(host.size());
  for (char c : host) {
    if (!isHostByte(c)) return uriError("invalid character in host");
    lower.push_back(toLowerAscii(c));
  }
  const bool allNumeric =
      std::all_of(lower.begin(), lower.end(), [](char c) { return isDigit(c) || c == '.'; });
  if (allNumeric) {
    if (!isDottedQuad(lower)) return uriError("invalid IPv4 address");
    t.host = std::move(lower);
    t.hostIsIpLiteral = true;
    t.hostIsIpv6 = false;
    return {};
  }
  // Labels: non-empty, at most 63 bytes; one trailing dot (FQDN) is fine.
  std::string_view name = lower;
  if (name.back() == '.') name.remove_suffix(1);
  size_t pos = 0;
  std::string_view lastLabel;
  for (;;) {
    size_t dot = name.find('.', pos);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(pos, dot - pos);
    if (label.empty() || label.size() > kMaxLabelLength) return uriError("invalid host name");
    lastLabel = label;
    if (dot == name.size()) break;
    pos = dot + 1;
  }
  // A numeric or hex last label ("1.2.0x3", "a.123") is read as an IPv4
  // address by some URL parsers (WHATWG); refuse the ambiguity.
  const bool numericLast =
      std::all_of(lastLabel.begin(), lastLabel.end(), [](char c) { return isDigit(c); });
  const bool hexLast = lastLabel.size() >= 2 && lastLabel[0] == '0' && lastLabel[1] == 'x';
  if (numericLast || hexLast) return uriError("ambiguous numeric host name");
  t.host = std::move(lower);
  t.hostIsIpLiteral = false;
  t.hostIsIpv6 = false;
  return {};
}

/// port = 1*5DIGIT with value 1-65535.
Result<uint16_t> parsePort(std::string_view s) {
  if (s.empty()) return uriError("empty port");
  if (s.size() > 5) return uriError("invalid port");
  unsigned v = 0;
  for (char c : s) {
    if (!isDigit(c)) return uriError("invalid port");
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return uriError("port out of range");
  return static_cast<uint16_t>(v);
}

}  // namespace

Result<void> parseHostPort(std::string_view authority, bool portRequired, uint16_t defaultPort,
                           Target& t) {
  if (authority.find('@') != std::string_view::npos) return uriError("userinfo in authority");
  std::string_view host;
  std::string_view rest;
  bool bracketed = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return uriError("unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    bracketed = true;
    if (!rest.empty() && rest.front() != ':') return uriError("junk after IPv6 literal");
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  Result<void> h = parseHost(host, bracketed, t);
  if (!h) return h;
  if (rest.empty()) {
    if (portRequired) return uriError("port required");
    t.port = defaultPort;
    return {};
  }
  Result<uint16_t> port = parsePort(rest.substr(1));
  if (!port) return port.error();
  t.port = *port;
  return {};
}

Result<Target> parseAbsoluteForm(std::string_view target) {
  for (char c : target) {
    if (!isTargetByte(c)) return uriError("invalid character in URI");
  }
  if (target.find('#') != std::string_view::npos) return uriError("fragment in request-target");
  const size_t sep = target.find("://");
  if (sep == std::string_view::npos) return uriError("not an absolute URI");
  Target t;
  const std::string_view scheme = target.substr(0, sep);
  uint16_t defaultPort = 0;
  if (equalsIgnoreCase(scheme, "http")) {
    t.scheme = "http";
    defaultPort = 80;
  } else if (equalsIgnoreCase(scheme, "https")) {
    t.scheme = "https";
    defaultPort = 443;
  } else {
    return uriError("unsupported URI scheme");
  }
  const std::string_view rest = target.substr(sep + 3);
  const size_t authEnd = std::min(rest.find('/'), rest.find('?'));
  const std::string_view authority = rest.substr(0, authEnd);
  Result<void> hp = parseHostPort(authority, false, defaultPort, t);
  if (!hp) return hp.error();
  const std::string_view pathAndQuery =
      authEnd == std::string_view::npos ? std::string_view() : rest.substr(authEnd);
  // RFC 9112 §3.2.1: an empty path is sent as "/" (also before a query).
  if (pathAndQuery.empty() || pathAndQuery.front() == '?') t.pathAndQuery = "/";
  t.pathAndQuery.append(pathAndQuery);
  return t;
}

Result<Target> parseAuthorityForm(std::string_view target) {
  for (char c : target) {
    if (!isTargetByte(c)) return uriError("invalid character in authority");
  }
  Target t;
  Result<void> hp = parseHostPort(target, true, 0, t);
  if (!hp) return hp.error();
  return t;
}

std::string Target::authority() const {
  std::string out;
  out.reserve(host.size() + 8);
  if (hostIsIpv6) out.push_back('[');
  out.append(host);
  if (hostIsIpv6) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

std::string Target::hostHeaderValue() const {
  const bool defaultPort = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!defaultPort) return authority();
  if (!hostIsIpv6) return host;
  std::string out;
  out.reserve(host.size() + 2);
  out.push_back('[');
  out.append(host);
  out.push_back(']');
  return out;
}

std::string Target::normalizedUri() const {
  std::string out = scheme;
  out.append("://");
  out.append(hostHeaderValue());
  out.append(pathAndQuery.empty() ? std::string_view("/") : std::string_view(pathAndQuery));
  return out;
}

}  // namespace portcullis::http
