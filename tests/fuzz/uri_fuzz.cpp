// Fuzzes parseAbsoluteForm / parseAuthorityForm. Whatever is accepted must
// be stable: its normalised form parses again to the same target.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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
  return 0;
}
