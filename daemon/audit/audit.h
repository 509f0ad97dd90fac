#pragma once
// `portcullis audit --proxy HOST:PORT`: probes any HTTP proxy the way
// open-proxy scanners and DNSBL checkers do, against canary listeners that
// the audit starts on 127.0.0.1, and says whether the proxy is open.
// Blocking sockets with poll() deadlines: this runs in the CLI process only.

#include <ostream>
#include <string>

namespace portcullis::audit {

/// Command-line options of `portcullis audit`; main binds CLI11 options
/// straight to these fields.
struct AuditOptions {
  std::string proxy;           ///< --proxy HOST:PORT or [V6]:PORT (required)
  bool json = false;           ///< --json: one JSON document instead of the table
  std::string timeout = "5s";  ///< --timeout: per-probe deadline ("250ms", "5s", "1m"), max 5m
  bool skipMetadata = false;   ///< --skip-metadata: omit the GET to 169.254.169.254, the one
                               ///< probe whose target is not on this machine
};

/// Runs every probe and writes the report to `out` (table, or JSON with
/// options.json); problems that stop the audit go to `err`.
/// Returns 0 when no probe was relayed, 1 when any was (the proxy is open),
/// 2 on a usage error or when the proxy cannot be reached at all.
/// The whole run is bounded by about (probes + 1) x timeout.
int runAudit(const AuditOptions& options, std::ostream& out, std::ostream& err);

}  // namespace portcullis::audit
