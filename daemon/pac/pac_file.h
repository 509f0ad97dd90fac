#pragma once
// The proxy auto-config (PAC) file generated from a config: the JavaScript
// FindProxyForURL(url, host) browsers run for every URL (the Netscape PAC
// format, as Chrome, Firefox and Windows' WinHTTP read it). Pure: no I/O.
//
// What it sends where:
//   - schemes the proxy does not carry (not http, https, ws, wss): DIRECT;
//   - names without a dot ("intranet", "localhost"): DIRECT;
//   - [pac] direct sets (their host names and address ranges): DIRECT;
//   - address literals the proxy refuses whatever the rules (special-purpose
//     ranges no destination set opens: private, loopback, link-local...):
//     DIRECT, so a printer's or router's page still works;
//   - everything else: the [pac] proxies in order (then DIRECT only with
//     fallback_direct). Blocked sites go to the proxy too, so the user sees
//     its error page and the refusal is logged.

#include <string>

#include "daemon/config/config.h"

namespace portcullis::pac {

/// The PAC file for `config` (its [pac] table and policy). Deterministic:
/// the same config gives the same bytes.
std::string renderPacFile(const config::Config& config);

}  // namespace portcullis::pac
