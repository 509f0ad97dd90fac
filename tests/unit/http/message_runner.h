#pragma once
// Test helper: plays the part of a connection that receives a message in
// segments and drives head parser -> framing -> body decoder, the way the
// proxy does. Fixtures are run with different segmentations (whole, byte by
// byte, split at every offset) and the outcomes must agree.

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "daemon/http/chunked_decoder.h"
#include "daemon/http/framing.h"
#include "daemon/http/head_parser.h"

namespace portcullis::http::testing {

constexpr int kOk = 0;
constexpr int kIncomplete = -1;

struct Outcome {
  int error = kOk;    ///< kOk, kIncomplete or the HTTP status of the failure
  std::string phase;  ///< "head", "framing" or "body" when failed
  size_t headErrorOffset = 0;
  size_t consumed = 0;  ///< bytes of the whole message (head + body)
  BodyKind kind = BodyKind::kNone;
  std::string body;
  std::string startLine;  ///< method/target/version or version/status/reason
  std::vector<HeaderField> fields;

  bool operator==(const Outcome& o) const {
    if (error != o.error || phase != o.phase || headErrorOffset != o.headErrorOffset ||
        consumed != o.consumed || kind != o.kind || body != o.body || startLine != o.startLine ||
        fields.size() != o.fields.size()) {
      return false;
    }
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].name != o.fields[i].name || fields[i].value != o.fields[i].value) return false;
    }
    return true;
  }
};

inline doctest::String toString(const Outcome& o) {
  std::string s = "{error=" + std::to_string(o.error) + " phase=" + o.phase +
                  " off=" + std::to_string(o.headErrorOffset) +
                  " consumed=" + std::to_string(o.consumed) +
                  " kind=" + std::to_string(static_cast<int>(o.kind)) + " body=" + o.body +
                  " start=" + o.startLine + " fields=" + std::to_string(o.fields.size()) + "}";
  return doctest::String(s.c_str());
}

/// Which message the runner parses.
struct Direction {
  bool response = false;
  Method requestMethod = Method::kGet;  ///< for responses
};

/// Delivers `bytes` in segments ending at each of `cuts` (ascending, last ==
/// size) and runs the message through the parsers.
inline Outcome runMessage(std::string_view bytes, const std::vector<size_t>& cuts,
                          const ParseLimits& limits, Direction dir) {
  Outcome out;
  std::string buf;
  size_t fed = 0;
  enum class Phase { kHead, kBody, kDone } phase = Phase::kHead;
  RequestHead req;
  ResponseHead resp;
  Framing framing;
  ChunkedDecoder decoder;
  uint64_t clRemaining = 0;
  auto fail = [&](int status, const char* where, size_t off) {
    out.error = status;
    out.phase = where;
    out.headErrorOffset = off;
    out.consumed = 0;  // how far we got before failing depends on the segmentation
    out.body.clear();
    return out;
  };
  for (size_t cut : cuts) {
    buf.append(bytes.substr(fed, cut - fed));
    fed = cut;
    if (phase == Phase::kHead) {
      const ParseOutcome o =
          dir.response ? parseResponseHead(buf, limits, resp) : parseRequestHead(buf, limits, req);
      if (o.status == ParseStatus::kNeedMore) continue;
      if (o.status == ParseStatus::kInvalid) return fail(o.errorStatus, "head", o.errorOffset);
      out.consumed = o.consumed;
      buf.erase(0, o.consumed);
      const Result<Framing> f =
          dir.response ? responseFraming(resp, dir.requestMethod) : requestFraming(req);
      if (!f) return fail(f.error().status, "framing", 0);
      framing = *f;
      out.kind = framing.kind;
      clRemaining = framing.length;
      if (dir.response) {
        out.startLine = std::to_string(resp.versionMinor) + " " + std::to_string(resp.status) +
                        " " + resp.reason;
        out.fields = resp.headers.fields();
      } else {
        out.startLine = req.method + " " + req.target + " " + std::to_string(req.versionMinor);
        out.fields = req.headers.fields();
      }
      phase = Phase::kBody;
    }
    if (phase != Phase::kBody) break;
    switch (framing.kind) {
      case BodyKind::kNone:
        phase = Phase::kDone;
        break;
      case BodyKind::kContentLength: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(clRemaining, buf.size()));
        out.body.append(buf, 0, take);
        buf.erase(0, take);
        out.consumed += take;
        clRemaining -= take;
        if (clRemaining == 0) phase = Phase::kDone;
        break;
      }
      case BodyKind::kChunked: {
        const ParseOutcome o = decoder.decode(buf, out.body);
        if (o.status == ParseStatus::kInvalid) return fail(o.errorStatus, "body", 0);
        if (o.status == ParseStatus::kNeedMore) CHECK(o.consumed == buf.size());
        out.consumed += o.consumed;
        buf.erase(0, o.consumed);
        if (o.status == ParseStatus::kDone) phase = Phase::kDone;
        break;
      }
      case BodyKind::kUntilClose:
        out.body.append(buf);
        out.consumed += buf.size();
        buf.clear();
        break;
    }
    if (phase == Phase::kDone) break;
  }
  if (phase == Phase::kBody && framing.kind == BodyKind::kUntilClose) phase = Phase::kDone;  // EOF
  if (phase != Phase::kDone) {
    out.error = kIncomplete;
    out.phase = phase == Phase::kHead ? "head" : "body";
  }
  return out;
}

inline std::vector<size_t> wholeCuts(size_t n) {
  return {n};
}

inline std::vector<size_t> byteCuts(size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i <= n; ++i) cuts.push_back(i);
  if (cuts.empty()) cuts.push_back(0);
  return cuts;
}

/// Runs `bytes` whole, byte by byte and split at every offset; checks that
/// all agree and returns the whole-buffer outcome.
inline Outcome runAllWays(std::string_view bytes, const ParseLimits& limits, Direction dir) {
  const Outcome whole = runMessage(bytes, wholeCuts(bytes.size()), limits, dir);
  const Outcome bytewise = runMessage(bytes, byteCuts(bytes.size()), limits, dir);
  CHECK_MESSAGE(bytewise == whole, "byte-by-byte feeding differs");
  for (size_t split = 0; split <= bytes.size(); ++split) {
    const Outcome two = runMessage(bytes, {split, bytes.size()}, limits, dir);
    if (!(two == whole)) {
      CHECK_MESSAGE(two == whole, "split at offset ", split, " differs");
      break;
    }
  }
  return whole;
}

}  // namespace portcullis::http::testing
