// Fuzzes parseResponseHead + responseFraming. The first byte picks the
// request method the response answers. Invariants as for requests.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/http/framing.h"
#include "daemon/http/head_parser.h"
#include "daemon/http/message_writer.h"

using namespace portcullis::http;
using portcullis::Result;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool same(const ParseOutcome& a, const ParseOutcome& b) {
  return a.status == b.status && a.consumed == b.consumed && a.errorStatus == b.errorStatus &&
         a.errorOffset == b.errorOffset;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr Method kMethods[] = {Method::kGet, Method::kHead, Method::kConnect,
                                        Method::kPost};
  const Method method = kMethods[data[0] % 4];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  ParseLimits limits;
  limits.maxHeaderBytes = 1024;
  limits.maxHeaderCount = 16;
  ResponseHead head;
  const ParseOutcome whole = parseResponseHead(in, limits, head);
  check(whole.consumed <= in.size());
  if (whole.status == ParseStatus::kInvalid) {
    check(whole.errorStatus == 502);
    check(whole.errorOffset < in.size());
  }
  const size_t step = in.size() > 64 ? in.size() / 16 : 1;
  for (size_t cut = 0; cut < in.size(); cut += step) {
    ResponseHead h;
    const ParseOutcome p = parseResponseHead(in.substr(0, cut), limits, h);
    check(p.status == ParseStatus::kNeedMore || same(p, whole));
  }
  if (whole.status != ParseStatus::kDone) return 0;
  check(head.status >= 100 && head.status <= 599);
  check(head.versionMinor == 0 || head.versionMinor == 1);
  // Written back out, it parses to the same head.
  std::string wire;
  writeResponseHead(wire, head.status, head.reason, head.headers);
  ResponseHead again;
  ParseLimits roomy = limits;
  roomy.maxHeaderBytes = wire.size() + 1;
  const ParseOutcome o = parseResponseHead(wire, roomy, again);
  check(o.status == ParseStatus::kDone && o.consumed == wire.size());
  check(again.status == head.status && again.reason == head.reason);
  check(again.headers.size() == head.headers.size());
  for (size_t i = 0; i < head.headers.size(); ++i) {
    check(again.headers.fields()[i].value == head.headers.fields()[i].value);
  }
  const Result<Framing> framing = responseFraming(head, method);
  if (!framing) check(framing.error().status == 502);
  HeaderMap stripped = head.headers;
  removeHopByHopFields(stripped);
  check(!stripped.has("Connection") && !stripped.has("Transfer-Encoding"));
  check(stripped.count("Content-Length") == head.headers.count("Content-Length"));
  return 0;
}
