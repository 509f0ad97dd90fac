#include "daemon/http/uri.h"

#include <algorithm>

#include "daemon/http/char_class.h"
#include "daemon/http/header_map.h"
#include "daemon/http/host_port.h"

namespace portcullis::http {

namespace {

Error uriError(std::string message) {
  return makeError(std::move(message), 400);
}

/// The authority of a target into t.host/port/flags (host_port.h rules).
Result<void> parseAuthority(std::string_view authority, bool portRequired, uint16_t defaultPort,
                            Target& t) {
  Result<HostPort> hp = parseHostPort(authority, {portRequired, defaultPort});
  if (!hp) return hp.error();
  t.host = std::move(hp->host);
  t.port = hp->port;
  t.hostIsIpLiteral = hp->isIpLiteral;
  t.hostIsIpv6 = hp->isIpv6;
  return {};
}

}  // namespace

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
  Result<void> hp = parseAuthority(authority, false, defaultPort, t);
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
  Result<void> hp = parseAuthority(target, true, 0, t);
  if (!hp) return hp.error();
  return t;
}

std::string Target::authority() const {
  return HostPort{host, port, hostIsIpLiteral, hostIsIpv6}.authority();
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
