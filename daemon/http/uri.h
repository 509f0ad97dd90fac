#pragma once
// Request-target forms a forward proxy accepts (RFC 9112 §3.2).

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/base/result.h"

namespace portcullis::http {

struct Target {
  std::string scheme;  ///< lower-case: "http" (or "https" for absolute-form; we refuse it
                       ///< upstream); empty for authority-form (CONNECT)
  std::string host;    ///< lower-case reg-name, dotted-quad IPv4, or IPv6 in RFC 5952
                       ///< canonical text without brackets
  uint16_t port = 0;   ///< explicit or the scheme default
  bool hostIsIpLiteral = false;
  bool hostIsIpv6 = false;
  std::string pathAndQuery;  ///< origin-form to send upstream; "/" when empty (RFC 9112 §3.2.1)

  /// "host:port" with brackets for IPv6, as used in Host fields and logs.
  std::string authority() const;
  /// Authority with the default port dropped, as sent in Host (RFC 9112 §3.2.2).
  std::string hostHeaderValue() const;
  /// Normalised absolute URI: scheme and host lower-case, default port
  /// dropped; the cache key base.
  std::string normalizedUri() const;
};

/// absolute-form ("http://host[:port]/path?q"). Rejects userinfo, fragments,
/// empty host, bad port, non-http(s) schemes, invalid characters. The
/// authority follows parseHostPort() (host_port.h): hosts are stricter than
/// RFC 3986 reg-name. The path and query are kept byte for byte. All errors
/// carry status 400.
Result<Target> parseAbsoluteForm(std::string_view target);

/// authority-form for CONNECT ("host:port", "[v6]:port"); the port is required.
Result<Target> parseAuthorityForm(std::string_view target);

}  // namespace portcullis::http
