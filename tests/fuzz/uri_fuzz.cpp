// Fuzzes parseAbsoluteForm / parseAuthorityForm and the host:port parser
// under each caller's rules. Whatever is accepted must be stable: its
// normalised form parses again to the same target.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/http/host_port.h"
#include "daemon/http/uri.h"

using namespace portcullis::http;
using portcullis::Result;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void checkSameTarget(const Target& a, const Target& b) {
  check(a.host == b.host && a.port == b.port && a.hostIsIpLiteral == b.hostIsIpLiteral &&
        a.hostIsIpv6 == b.hostIsIpv6);
}

/// Under `rules`: what is accepted obeys them, and its authority() reads back the same.
void checkHostPort(std::string_view in, const HostPortRules& rules) {
  const Result<HostPort> hp = parseHostPort(in, rules);
  if (!hp) {
    check(hp.error().status == 400);
    return;
  }
  check(!hp->host.empty() && (!rules.ipOnly || hp->isIpLiteral));
  check(hp->port != 0 || rules.portZeroAllowed || (!rules.portRequired && rules.defaultPort == 0));
  const Result<HostPort> again = parseHostPort(hp->authority(), rules);
  check(again.ok());
  check(again->host == hp->host && again->port == hp->port &&
        again->isIpLiteral == hp->isIpLiteral && again->isIpv6 == hp->isIpv6);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Result<Target> absolute = parseAbsoluteForm(in);
  if (absolute) {
    check(!absolute->host.empty() && absolute->port != 0);
    check(absolute->scheme == "http" || absolute->scheme == "https");
    check(!absolute->pathAndQuery.empty() && absolute->pathAndQuery[0] == '/');
    check(absolute->pathAndQuery.find('#') == std::string::npos);
    const std::string norm = absolute->normalizedUri();
    const Result<Target> again = parseAbsoluteForm(norm);
    check(again.ok());
    checkSameTarget(*absolute, *again);
    check(again->scheme == absolute->scheme && again->pathAndQuery == absolute->pathAndQuery);
    check(again->normalizedUri() == norm);
    const Result<Target> auth = parseAuthorityForm(absolute->authority());
    check(auth.ok());
    checkSameTarget(*absolute, *auth);
  } else {
    check(absolute.error().status == 400);
  }
  const Result<Target> conn = parseAuthorityForm(in);
  if (conn) {
    check(!conn->host.empty() && conn->port != 0 && conn->scheme.empty());
    const Result<Target> again = parseAuthorityForm(conn->authority());
    check(again.ok());
    checkSameTarget(*conn, *again);
    check(conn->hostHeaderValue() == conn->authority());
  }
  checkHostPort(in, {});
  checkHostPort(in, {.portRequired = false, .defaultPort = 80});
  checkHostPort(in, {.portRequired = true, .portZeroAllowed = true, .ipOnly = true});
  return 0;
}
