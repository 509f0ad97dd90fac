#pragma once
// What the CONNECT SNI check makes of the client's first bytes: pure rules
// over the ClientHello reader's answer (daemon/tls/client_hello.h), the
// CONNECT target and the client's [[sni]] choices. The I/O around it is
// sni_check.h.

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/config/config.h"
#include "daemon/tls/client_hello.h"

namespace portcullis::proxy {

/// The rule names a refusal is logged with.
inline constexpr std::string_view kSniMismatchRule = "hard:sni-mismatch";
inline constexpr std::string_view kNoSniRule = "sni:no-sni";
inline constexpr std::string_view kNotTlsRule = "sni:not-tls";
inline constexpr std::string_view kEchRule = "sni:ech";
inline constexpr std::string_view kMalformedRule = "sni:malformed";
inline constexpr std::string_view kTimeoutRule = "sni:timeout";

/// What the check knows besides the bytes.
struct SniFacts {
  std::string connectHost;  ///< the CONNECT target's host, normalised (lower case, IPv6 bare)
  uint16_t port = 0;
  config::SniRuleConfig choices;  ///< the client's [[sni]] (or the defaults)
};

struct SniVerdict {
  enum class Step {
    kWait,       ///< need more bytes
    kRelay,      ///< open the tunnel
    kRefuse,     ///< close it: `rule` and `detail` say why
    kCheckName,  ///< the SNI `name` differs from the CONNECT host: ask the policy and DNS
  };
  Step step = Step::kWait;
  std::string rule;
  std::string detail;
  std::string name;  ///< kCheckName: the SNI, normalised like a CONNECT host
};

/// Judges the reader's answer. kCheckName is not final: the name must then
/// pass the policy as if the CONNECT had named it, and resolve to an address
/// list that holds the address the tunnel is connected to (sniNameVerdict).
SniVerdict judgeHello(const tls::HelloOutcome& outcome, const SniFacts& facts);

/// The client sent `bytesSoFar` bytes and no answer within sni_timeout.
SniVerdict judgeTimeout(size_t bytesSoFar, const SniFacts& facts);

/// kCheckName's second half: `allowedByPolicy` is the policy's answer for the
/// SNI name with its resolved addresses, `holdsConnected` whether those hold
/// the address the tunnel is connected to; `denyRule` names the deciding rule.
SniVerdict sniNameVerdict(std::string_view name, bool allowedByPolicy, std::string_view denyRule,
                          bool holdsConnected);

}  // namespace portcullis::proxy
