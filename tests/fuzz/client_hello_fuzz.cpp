// Fuzzes the TLS ClientHello reader. Whatever the bytes: every answer is one
// of the four; a ClientHello read from N bytes is read the same from its
// first `consumed` bytes and answers "need more" on shorter prefixes; the
// incremental reader fed in two pieces agrees with one call on the whole.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/tls/client_hello.h"

using namespace portcullis::tls;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool sameHello(const ClientHello& a, const ClientHello& b) {
  return a.sni == b.sni && a.hasSni == b.hasSni && a.alpn == b.alpn &&
         a.supportedVersions == b.supportedVersions && a.echOffered == b.echOffered &&
         a.legacyVersion == b.legacyVersion && a.recordVersion == b.recordVersion;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const HelloOutcome whole = readClientHello(in);
  switch (whole.status) {
    case HelloStatus::kNeedMore:
      break;
    case HelloStatus::kNotTls:
    case HelloStatus::kMalformed:
      check(!whole.reason.empty() && whole.errorOffset < size);
      break;
    case HelloStatus::kClientHello: {
      check(whole.consumed > 0 && whole.consumed <= size);
      check(whole.hello.hasSni == !whole.hello.sni.empty());
      const HelloOutcome exact = readClientHello(in.substr(0, whole.consumed));
      check(exact.status == HelloStatus::kClientHello && exact.consumed == whole.consumed);
      check(sameHello(exact.hello, whole.hello));
      for (size_t cut : {whole.consumed - 1, whole.consumed / 2, size_t{1}}) {
        if (cut == 0 || cut >= whole.consumed) continue;
        check(readClientHello(in.substr(0, cut)).status == HelloStatus::kNeedMore);
      }
      break;
    }
  }
  ClientHelloReader reader;
  reader.feed(in.substr(0, size / 3));
  const HelloOutcome& fed = reader.feed(in.substr(size / 3));
  check(reader.buffered() == in);
  if (readClientHello(in.substr(0, size / 3)).status == HelloStatus::kNeedMore) {
    check(fed.status == whole.status);
  }
  return 0;
}
