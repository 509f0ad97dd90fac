// Fuzzes parseRequestHead + requestFraming + the chunked body, and checks
// invariants: consumed within bounds, a prefix never gives a different answer
// than the whole buffer, error offsets point into the buffer, and a parsed
// head written back out parses to the same head.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/http/chunked_decoder.h"
#include "daemon/http/framing.h"
#include "daemon/http/head_parser.h"
#include "daemon/http/message_writer.h"
#include "daemon/http/uri.h"

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

void checkPrefix(std::string_view in, size_t cut, const ParseLimits& limits,
                 const ParseOutcome& whole) {
  RequestHead head;
  const ParseOutcome p = parseRequestHead(in.substr(0, cut), limits, head);
  check(p.status == ParseStatus::kNeedMore || same(p, whole));
}

void checkRoundTrip(const RequestHead& head, const ParseLimits& limits) {
  std::string wire;
  writeRequestHead(wire, head.method, head.target, head.headers);
  RequestHead again;
  ParseLimits roomy = limits;
  roomy.maxRequestLine = wire.size() + 2;
  roomy.maxHeaderBytes = wire.size() + 2;
  const ParseOutcome o = parseRequestHead(wire, roomy, again);
  check(o.status == ParseStatus::kDone && o.consumed == wire.size());
  check(again.method == head.method && again.target == head.target);
  check(again.headers.size() == head.headers.size());
  for (size_t i = 0; i < head.headers.size(); ++i) {
    check(again.headers.fields()[i].name == head.headers.fields()[i].name);
    check(again.headers.fields()[i].value == head.headers.fields()[i].value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.maxRequestLine = 256;
  limits.maxHeaderBytes = 1024;
  limits.maxHeaderCount = 16;
  RequestHead head;
  const ParseOutcome whole = parseRequestHead(in, limits, head);
  check(whole.consumed <= size);
  if (whole.status == ParseStatus::kInvalid) {
    check(whole.errorOffset < size);
    check(whole.errorStatus == 400 || whole.errorStatus == 414 || whole.errorStatus == 431 ||
          whole.errorStatus == 505);
    check(!whole.reason.empty());
  }
  // Stateless parser: every prefix says "need more" or the same thing.
  const size_t step = size > 64 ? size / 16 : 1;
  for (size_t cut = 0; cut < size; cut += step) checkPrefix(in, cut, limits, whole);
  if (whole.status != ParseStatus::kDone) return 0;
  check(whole.consumed > 0);
  checkRoundTrip(head, limits);
  const Result<void> host = checkHostField(head);
  check(host.ok() || host.error().status == 400);
  if (head.methodKind == Method::kConnect) {
    (void)parseAuthorityForm(head.target);
  } else if (!head.target.empty() && head.target[0] != '/') {
    (void)parseAbsoluteForm(head.target);
  }
  const Result<Framing> framing = requestFraming(head);
  if (!framing) {
    check(framing.error().status == 400 || framing.error().status == 501);
    return 0;
  }
  if (framing->kind != BodyKind::kChunked) return 0;
  // Body: whole and byte by byte must agree.
  const std::string_view body = in.substr(whole.consumed);
  ChunkedDecoder a;
  ChunkedDecoder b;
  std::string outA;
  std::string outB;
  const ParseOutcome ra = a.decode(body, outA);
  check(ra.consumed <= body.size());
  ParseOutcome rb;
  size_t usedB = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    rb = b.decode(body.substr(i, 1), outB);
    if (rb.status != ParseStatus::kNeedMore) {
      usedB = i + rb.consumed;
      break;
    }
  }
  if (body.empty()) rb = b.decode(body, outB);
  check(ra.status == rb.status);
  if (ra.status == ParseStatus::kDone) check(ra.consumed == usedB && outA == outB);
  return 0;
}
