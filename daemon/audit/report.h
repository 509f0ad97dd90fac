#pragma once
// Rendering of an audit: a table for a person, a JSON document for tools.
// Pure: takes results, returns text.

#include <string>
#include <vector>

#include "daemon/audit/verdict.h"

namespace portcullis::audit {

/// One probe's outcome as reported.
struct ProbeResult {
  std::string name;  ///< stable identifier, e.g. "connect-smtp-canary"
  std::string sent;  ///< what was sent, short ("CONNECT 127.0.0.1:40123")
  Verdict verdict = Verdict::kInconclusive;
  std::string evidence;  ///< status line received, canary observations
};

/// A whole run against one proxy.
struct AuditReport {
  std::string proxy;  ///< HOST:PORT as given on the command line
  std::vector<ProbeResult> probes;

  /// Number of probes with the given verdict.
  size_t count(Verdict v) const;
  /// True when any probe was relayed.
  bool open() const { return count(Verdict::kRelayed) > 0; }
};

/// One line per probe (name, verdict, sent, evidence) then the summary line
/// "OPEN: n probes relayed" or "closed: no probe relayed". Untrusted text
/// is passed through printable(), so the output has no control bytes.
std::string renderTable(const AuditReport& report);

/// {"proxy":..., "open":bool, "relayed":n, "inconclusive":n,
///  "probes":[{"name","sent","verdict","evidence"}]} on one line plus "\n".
/// Strings are escaped by log::appendEscaped (valid UTF-8, no raw controls).
std::string renderJson(const AuditReport& report);

}  // namespace portcullis::audit
