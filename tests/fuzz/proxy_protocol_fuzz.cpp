// PROXY protocol headers (v1 and v2): never crashes, never reads past the
// input, and an accepted header's length fits in what was given; the same
// bytes with more after them give the same answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/http/proxy_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using portcullis::http::ProxyParse;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const ProxyParse p = portcullis::http::parseProxyHeader(input);
  if (p.status == ProxyParse::Status::kDone) {
    if (p.header.length == 0 || p.header.length > size) std::abort();
    const ProxyParse again = portcullis::http::parseProxyHeader(input + "trailing bytes");
    if (again.status != ProxyParse::Status::kDone || again.header.length != p.header.length)
      std::abort();
  }
  return 0;
}
