#pragma once
// Transparent mode's pure decisions: where a redirected connection was
// going, the target a plain-HTTP request on it names, and whether that
// target agrees with the destination. The proxy connects only to the
// original destination, never to what the Host field says: a client that
// sends "Host: allowed.example" to a forbidden address must not reach
// either one (the transparent-proxy hole of CERT VU#435052). No I/O.

#include <cstdint>
#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/base/result.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"

namespace portcullis::proxy {

/// Where the kernel says a redirected connection was going.
struct TransparentDestination {
  acl::IpAddress ip;
  uint16_t port = 0;
  bool tls = false;  ///< the port is one of [server] transparent_tls_ports

  /// "ip:port", "[v6]:port".
  std::string authority() const;
};

/// The hard rule a Host that disagrees with the destination is logged with.
inline constexpr std::string_view kHostMismatchRule = "hard:transparent-host-mismatch";

/// The absolute target of a request that reached us redirected to `dst`:
/// "http://" + Host + path for an origin-form request (an absolute-form
/// one is taken as it is, RFC 9112 §3.2.2), the original destination's IP
/// literal when an HTTP/1.0 request has no Host. Errors carry status 400
/// (a malformed request) or 409 (it names another place than `dst`: a
/// Host or target port other than the destination's, an IP literal other
/// than the destination's address). A name is not resolved here: the
/// caller checks agreesWith() on its addresses after DNS.
Result<http::Target> transparentHttpTarget(const http::RequestHead& head,
                                           const TransparentDestination& dst);

/// True when `dst` is among `resolved` (IPv4 and v4-mapped IPv6 compare equal).
bool agreesWith(const acl::IpAddress& dst, const std::vector<acl::IpAddress>& resolved);

}  // namespace portcullis::proxy
