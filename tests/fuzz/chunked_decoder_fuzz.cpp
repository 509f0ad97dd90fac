// Fuzzes ChunkedDecoder. The first byte picks limits and a feed step; the
// input is decoded whole, in steps, byte by byte and split in two, and every
// way must agree. A decoded body re-encoded with appendChunk decodes the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/http/chunked_decoder.h"

using namespace portcullis::http;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Run {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;
  std::string out;
};

Run decodeInSteps(std::string_view in, size_t step, ChunkedDecoder::Limits limits) {
  ChunkedDecoder d(limits);
  Run r;
  size_t pos = 0;
  do {
    const size_t len = step == 0 ? in.size() - pos : std::min(step, in.size() - pos);
    const ParseOutcome o = d.decode(in.substr(pos, len), r.out);
    check(o.consumed <= len);
    r.status = o.status;
    if (o.status == ParseStatus::kNeedMore) check(o.consumed == len);
    if (o.status == ParseStatus::kInvalid) return r;
    r.consumed += o.consumed;
    pos += len;
    if (o.status == ParseStatus::kDone) {
      check(d.finished() && d.payloadBytes() == r.out.size());
      return r;
    }
  } while (pos < in.size());
  return r;
}

Run decodeSplit(std::string_view in, size_t split, ChunkedDecoder::Limits limits) {
  ChunkedDecoder d(limits);
  Run r;
  for (std::string_view part : {in.substr(0, split), in.substr(split)}) {
    const ParseOutcome o = d.decode(part, r.out);
    r.status = o.status;
    if (o.status == ParseStatus::kInvalid) return r;
    r.consumed += o.consumed;
    if (o.status == ParseStatus::kDone) break;
  }
  return r;
}

void checkSame(const Run& a, const Run& b) {
  check(a.status == b.status);
  if (a.status == ParseStatus::kInvalid) return;
  check(a.consumed == b.consumed && a.out == b.out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ChunkedDecoder::Limits limits;
  limits.maxLineBytes = 16 + (data[0] & 0x3f);
  limits.maxTrailerBytes = 32 + (data[0] >> 2);
  const size_t step = 2 + (data[0] & 7);
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Run whole = decodeInSteps(in, 0, limits);
  checkSame(whole, decodeInSteps(in, 1, limits));
  checkSame(whole, decodeInSteps(in, step, limits));
  checkSame(whole, decodeSplit(in, in.size() / 2, limits));
  checkSame(whole, decodeSplit(in, data[0] % (in.size() + 1), limits));
  if (whole.status != ParseStatus::kDone) return 0;
  check(whole.consumed <= in.size());
  std::string wire;
  if (!whole.out.empty()) appendChunk(wire, whole.out);
  appendLastChunk(wire);
  const Run again = decodeInSteps(wire, 0, ChunkedDecoder::Limits{});
  check(again.status == ParseStatus::kDone && again.out == whole.out &&
        again.consumed == wire.size());
  return 0;
}
