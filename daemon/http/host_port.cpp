#include "daemon/http/host_port.h"

#include <arpa/inet.h>

#include <algorithm>

#include "daemon/http/char_class.h"

namespace portcullis::http {

namespace {

constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxLabelLength = 63;

Error hostPortError(std::string message) {
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

/// RFC 3986 §3.2.2 IP-literal: only IPv6address; no zone id, no IPvFuture.
Result<void> parseIpv6(std::string_view host, HostPort& out) {
  char buf[64];
  unsigned char addr[16];
  if (host.empty()) return hostPortError("empty host");
  if (host.size() >= sizeof(buf)) return hostPortError("invalid IPv6 literal");
  for (char c : host) {
    if (!isHexDigit(c) && c != ':' && c != '.') return hostPortError("invalid IPv6 literal");
  }
  std::copy(host.begin(), host.end(), buf);
  buf[host.size()] = '\0';
  if (inet_pton(AF_INET6, buf, addr) != 1) return hostPortError("invalid IPv6 literal");
  // Canonical text (RFC 5952) so equal addresses give equal cache keys.
  char canon[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, addr, canon, sizeof(canon)) == nullptr)
    return hostPortError("invalid IPv6 literal");
  out.host = canon;
  out.isIpLiteral = true;
  out.isIpv6 = true;
  return {};
}

/// Labels: non-empty, at most 63 bytes; one trailing dot (FQDN) is fine.
/// A numeric or hex last label ("1.2.0x3", "a.123") is read as an IPv4
/// address by some URL parsers (WHATWG); the ambiguity is refused.
Result<void> checkLabels(std::string_view name) {
  if (name.back() == '.') name.remove_suffix(1);
  size_t pos = 0;
  std::string_view lastLabel;
  for (;;) {
    size_t dot = name.find('.', pos);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(pos, dot - pos);
    if (label.empty() || label.size() > kMaxLabelLength) return hostPortError("invalid host name");
    lastLabel = label;
    if (dot == name.size()) break;
    pos = dot + 1;
  }
  const bool numericLast =
      std::all_of(lastLabel.begin(), lastLabel.end(), [](char c) { return isDigit(c); });
  const bool hexLast = lastLabel.size() >= 2 && lastLabel[0] == '0' && lastLabel[1] == 'x';
  if (numericLast || hexLast) return hostPortError("ambiguous numeric host name");
  return {};
}

/// reg-name or dotted quad. We accept only letters, digits, '-', '.', '_' (a
/// subset of RFC 3986 §3.2.2): percent-encoding and sub-delims have no place
/// in a DNS name and only serve to make two parsers disagree about the host.
Result<void> parseName(std::string_view host, HostPort& out) {
  if (host.empty()) return hostPortError("empty host");
  if (host.size() > kMaxHostLength + 1) return hostPortError("host name too long");
  std::string lower;
  lower.reserve(host.size());
  for (char c : host) {
    if (!isHostByte(c)) return hostPortError("invalid character in host");
    lower.push_back(toLowerAscii(c));
  }
  const bool allNumeric =
      std::all_of(lower.begin(), lower.end(), [](char c) { return isDigit(c) || c == '.'; });
  if (allNumeric) {
    if (!isDottedQuad(lower)) return hostPortError("invalid IPv4 address '" + lower + "'");
    out.isIpLiteral = true;
  } else if (Result<void> labels = checkLabels(lower); !labels) {
    return labels;
  }
  out.host = std::move(lower);
  return {};
}

/// port = 1*5DIGIT with value 1-65535 (0-65535 when `zeroAllowed`).
Result<uint16_t> parsePort(std::string_view s, bool zeroAllowed) {
  if (s.empty()) return hostPortError("empty port after ':'");
  unsigned v = 0;
  bool digits = s.size() <= 5;
  for (size_t i = 0; i < s.size() && digits; ++i) {
    digits = isDigit(s[i]);
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  if (!digits || v > 65535 || (v == 0 && !zeroAllowed)) {
    return hostPortError("'" + std::string(s) + "' is not a port from " +
                         (zeroAllowed ? "0" : "1") + " to 65535");
  }
  return static_cast<uint16_t>(v);
}

}  // namespace

Result<HostPort> parseHostPort(std::string_view text, const HostPortRules& rules) {
  if (text.find('@') != std::string_view::npos) return hostPortError("userinfo in authority");
  HostPort out;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return hostPortError("unterminated IPv6 literal");
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return hostPortError("junk after IPv6 literal");
    if (Result<void> h = parseIpv6(text.substr(1, close - 1), out); !h) return h.error();
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return hostPortError("IPv6 addresses are written in brackets: [ADDRESS]:PORT");
    }
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
    if (Result<void> h = parseName(text.substr(0, colon), out); !h) return h.error();
  }
  if (rules.ipOnly && !out.isIpLiteral) {
    return hostPortError("'" + out.host + "' is not an IP address (names are not accepted here)");
  }
  if (rest.empty()) {
    if (rules.portRequired) return hostPortError("missing :PORT in '" + std::string(text) + "'");
    out.port = rules.defaultPort;
    return out;
  }
  Result<uint16_t> port = parsePort(rest.substr(1), rules.portZeroAllowed);
  if (!port) return port.error();
  out.port = *port;
  return out;
}

std::string HostPort::authority() const {
  std::string out;
  out.reserve(host.size() + 8);
  if (isIpv6) out.push_back('[');
  out.append(host);
  if (isIpv6) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

}  // namespace portcullis::http
