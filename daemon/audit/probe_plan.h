#pragma once
// The list of probes of `portcullis audit` and the exact bytes each sends.
// Pure: the ports of the canaries and the proxy's own address go in, the
// plan comes out, so the requests can be checked without a socket.

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/audit/verdict.h"

namespace portcullis::audit {

/// Which canary a probe aims at (and whose observations judge it).
enum class CanaryTarget { kNone, kSmtp, kHttp, kLine };

/// One probe: what to send and how to judge the answer.
struct ProbeSpec {
  std::string name;  ///< stable identifier, used in JSON
  ProbeKind kind = ProbeKind::kRequestCanary;
  CanaryTarget canary = CanaryTarget::kNone;
  bool connect = false;       ///< a CONNECT: after a 2xx, tunnelPayload goes through
  std::string request;        ///< the bytes sent to the proxy
  std::string sent;           ///< short description for the report
  std::string tunnelPayload;  ///< bytes sent through an established tunnel
};

/// Where things are during this run.
struct PlanInputs {
  uint16_t smtpCanary = 0;
  uint16_t httpCanary = 0;
  uint16_t lineCanary = 0;
  std::string proxyAuthority;  ///< the proxy's own HOST:PORT, for the loop probe
  bool metadata = true;        ///< include the 169.254.169.254 probe (leaves the machine if open)
};

/// Every probe, in the order they run.
std::vector<ProbeSpec> planProbes(const PlanInputs& in);

/// The SMTP dialogue sent as a POST body (HELO, MAIL FROM, RCPT TO, DATA, QUIT).
std::string smtpBody();

}  // namespace portcullis::audit
