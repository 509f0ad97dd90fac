#pragma once
// The one `host[:port]` parser of the project: request targets and Host
// fields (uri.h, framing.h), listen and admin addresses and nameservers in the
// config, the admin address of the CLI, `portcullis audit --proxy` and
// `portcullis explain --to`. Callers differ only in the rules below, so two
// of them can never disagree about what a host or a port is.

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/base/result.h"

namespace portcullis::http {

/// What a caller accepts besides the common grammar.
struct HostPortRules {
  bool portRequired = true;  ///< false: `defaultPort` when the text has no ":port"
  uint16_t defaultPort = 0;
  bool portZeroAllowed = false;  ///< listen addresses: 0 asks the kernel for a free port
  bool ipOnly = false;           ///< the host must be an IP literal (nothing resolves it)
};

/// A parsed host and port.
struct HostPort {
  std::string host;  ///< lower-case reg-name, dotted-quad IPv4, or IPv6 in RFC 5952
                     ///< canonical text without brackets
  uint16_t port = 0;
  bool isIpLiteral = false;
  bool isIpv6 = false;

  /// "host:port", with brackets around IPv6 (authority form, logs).
  std::string authority() const;
};

/// Parses "host", "host:port", "[v6]" or "[v6]:port" under `rules`.
///
/// The grammar (RFC 3986 §3.2.2, stricter): a reg-name of letters, digits,
/// '-', '.', '_' only (no percent-encoding, no sub-delims), non-empty labels
/// of <= 63 bytes, at most 253 bytes, no numeric or hex last label; IPv4 only
/// as a dotted quad without leading zeros; IPv6 only in brackets, without
/// zone id; no userinfo; port = 1*5DIGIT, 1..65535 (0 only when allowed).
/// Pure. Errors carry status 400 and a short reason ("port required",
/// "invalid IPv4 address", ...) that callers prefix with their context.
Result<HostPort> parseHostPort(std::string_view text, const HostPortRules& rules);

}  // namespace portcullis::http
