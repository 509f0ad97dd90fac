#include "daemon/http/head_parser.h"

#include <algorithm>
#include <cstring>

#include "daemon/http/char_class.h"
#include "daemon/http/field_line.h"

namespace portcullis::http {

// Both parsers work in two passes. Pass 1 walks the bytes strictly left to
// right and never looks at an index it does not need, so the outcome for any
// prefix of a buffer is either "need more" or the outcome for the whole buffer
// (the unit tests feed every fixture byte by byte to hold us to that). It
// allocates nothing. Only when the head is complete does pass 2 copy the
// already validated pieces into the output.

namespace {

/// Where pass 1 found the parts of the start line.
struct StartLine {
  size_t lineStart = 0;
  size_t firstEnd = 0;     ///< end of method / version
  size_t secondStart = 0;  ///< target / status
  size_t secondEnd = 0;
  size_t thirdStart = 0;  ///< version / reason
  size_t thirdEnd = 0;
  size_t fieldsStart = 0;  ///< just after the start line's LF
};

/// Outcome of the byte at `index` being needed beyond `bound`.
ParseOutcome beyond(size_t index, size_t size, int status, std::string_view why) {
  if (index >= size) return ParseOutcome::needMore();
  return ParseOutcome::invalid(status, index, why);
}

/// Checks "HTTP/" DIGIT "." DIGIT at `at` (RFC 9112 §2.3; case-sensitive).
/// Returns kDone (consumed unused) when the 8 bytes match the shape.
ParseOutcome scanVersion(std::string_view b, size_t at, size_t bound, int limitStatus,
                         std::string_view limitWhy, int errStatus) {
  static constexpr std::string_view kShape = "HTTP/0.0";
  const size_t stop = std::min(b.size(), bound);
  for (size_t k = 0; k < kShape.size(); ++k) {
    const size_t idx = at + k;
    if (idx >= stop) return beyond(idx, b.size(), limitStatus, limitWhy);
    const bool ok = (k == 5 || k == 7) ? isDigit(b[idx]) : b[idx] == kShape[k];
    if (!ok) return ParseOutcome::invalid(errStatus, idx, "malformed HTTP version");
  }
  return ParseOutcome::done(0);
}

/// Expects CRLF at `at`; done(next) on success.
ParseOutcome scanCrlf(std::string_view b, size_t at, size_t bound, int limitStatus,
                      std::string_view limitWhy, int errStatus) {
  const size_t stop = std::min(b.size(), bound);
  if (at >= stop) return beyond(at, b.size(), limitStatus, limitWhy);
  if (b[at] == '\n') return ParseOutcome::invalid(errStatus, at, "bare LF as line terminator");
  if (b[at] != '\r') return ParseOutcome::invalid(errStatus, at, "junk at end of start line");
  if (at + 1 >= stop) return beyond(at + 1, b.size(), limitStatus, limitWhy);
  if (b[at + 1] != '\n') return ParseOutcome::invalid(errStatus, at, "bare CR");
  return ParseOutcome::done(at + 2);
}

/// Walks the field lines from `start` to the empty line. done(headLength).
ParseOutcome scanFields(std::string_view b, size_t start, size_t headLimit, size_t maxCount,
                        int limitStatus, int errStatus) {
  size_t i = start;
  size_t count = 0;
  for (;;) {
    if (i >= b.size()) return ParseOutcome::needMore();
    if (i >= headLimit) return ParseOutcome::invalid(limitStatus, i, "header section too large");
    if (b[i] == '\r') {
      // RFC 9112 §2.1: the head ends with an empty line, CRLF exactly.
      if (i + 1 >= b.size()) return ParseOutcome::needMore();
      if (i + 1 >= headLimit)
        return ParseOutcome::invalid(limitStatus, i + 1, "header section too large");
      if (b[i + 1] != '\n') return ParseOutcome::invalid(errStatus, i, "bare CR");
      return ParseOutcome::done(i + 2);
    }
    if (++count > maxCount) return ParseOutcome::invalid(limitStatus, i, "too many header fields");
    const FieldLineScan s = scanFieldLine(b, i, headLimit);
    switch (s.status) {
      case LineScan::kOk:
        i = s.next;
        break;
      case LineScan::kNeedMore:
        return ParseOutcome::needMore();
      case LineScan::kLimit:
        return ParseOutcome::invalid(limitStatus, s.errorOffset, "header section too large");
      case LineScan::kInvalid:
        return ParseOutcome::invalid(errStatus, s.errorOffset, s.reason);
    }
  }
}

/// Pass 2 for the fields: the lines are known valid, so just split them.
void collectFields(std::string_view b, size_t i, HeaderMap& out) {
  out.clear();
  while (b[i] != '\r') {
    const size_t cr = b.find('\r', i);
    const size_t colon = b.find(':', i);
    std::string_view value = trimOws(b.substr(colon + 1, cr - colon - 1));
    out.add(std::string(b.substr(i, colon - i)), std::string(value));
    i = cr + 2;
  }
}

/// RFC 9112 §3: method SP request-target SP HTTP-version CRLF.
ParseOutcome scanRequestLine(std::string_view b, const ParseLimits& limits, size_t lineStart,
                             StartLine& sl) {
  // The request line including its CRLF must fit in maxRequestLine (414) and
  // the head in maxHeaderBytes (431); whichever bound comes first applies.
  const size_t lineBound = lineStart + limits.maxRequestLine;
  const size_t bound = std::min(lineBound, limits.maxHeaderBytes);
  const int limitStatus = lineBound <= limits.maxHeaderBytes ? 414 : 431;
  const std::string_view limitWhy =
      limitStatus == 414 ? "request line too long" : "header section too large";
  const size_t stop = std::min(b.size(), bound);
  sl.lineStart = lineStart;
  size_t j = lineStart;
  while (j < stop && isTchar(b[j])) ++j;
  if (j >= stop) return beyond(j, b.size(), limitStatus, limitWhy);
  if (b[j] != ' ')
    return ParseOutcome::invalid(400, j,
                                 j == lineStart ? "invalid method" : "invalid character in method");
  if (j == lineStart) return ParseOutcome::invalid(400, j, "empty method");
  sl.firstEnd = j;
  sl.secondStart = ++j;
  while (j < stop && isTargetByte(b[j])) ++j;
  if (j >= stop) return beyond(j, b.size(), limitStatus, limitWhy);
  if (b[j] != ' ') return ParseOutcome::invalid(400, j, "invalid character in request-target");
  if (j == sl.secondStart) return ParseOutcome::invalid(400, j, "empty request-target");
  sl.secondEnd = j;
  sl.thirdStart = ++j;
  ParseOutcome r = scanVersion(b, j, bound, limitStatus, limitWhy, 400);
  if (r.status != ParseStatus::kDone) return r;
  sl.thirdEnd = j + 8;
  r = scanCrlf(b, sl.thirdEnd, bound, limitStatus, limitWhy, 400);
  if (r.status != ParseStatus::kDone) return r;
  sl.fieldsStart = r.consumed;
  // RFC 9112 §2.3/§2.5: a well-formed version we do not speak is 505.
  if (b[sl.thirdStart + 5] != '1' || (b[sl.thirdStart + 7] != '0' && b[sl.thirdStart + 7] != '1')) {
    return ParseOutcome::invalid(505, sl.thirdStart, "HTTP version not supported");
  }
  return ParseOutcome::done(sl.fieldsStart);
}

}  // namespace

ParseOutcome parseRequestHead(std::string_view bytes, const ParseLimits& limits, RequestHead& out) {
  // RFC 9112 §2.2: ignore empty lines before the request-line. They count
  // toward the head size so that an endless stream of CRLF is bounded.
  size_t i = 0;
  for (;;) {
    if (i >= bytes.size()) return ParseOutcome::needMore();
    if (i >= limits.maxHeaderBytes)
      return ParseOutcome::invalid(431, i, "header section too large");
    if (bytes[i] == '\n') return ParseOutcome::invalid(400, i, "bare LF as line terminator");
    if (bytes[i] != '\r') break;
    if (i + 1 >= bytes.size()) return ParseOutcome::needMore();
    if (i + 1 >= limits.maxHeaderBytes)
      return ParseOutcome::invalid(431, i + 1, "header section too large");
    if (bytes[i + 1] != '\n') return ParseOutcome::invalid(400, i, "bare CR");
    i += 2;
  }
  StartLine sl;
  ParseOutcome r = scanRequestLine(bytes, limits, i, sl);
  if (r.status != ParseStatus::kDone) return r;
  r = scanFields(bytes, sl.fieldsStart, limits.maxHeaderBytes, limits.maxHeaderCount, 431, 400);
  if (r.status != ParseStatus::kDone) return r;

  out.method.assign(bytes.data() + sl.lineStart, sl.firstEnd - sl.lineStart);
  out.methodKind = methodFromToken(out.method);
  out.target.assign(bytes.data() + sl.secondStart, sl.secondEnd - sl.secondStart);
  out.versionMinor = bytes[sl.thirdStart + 7] - '0';
  collectFields(bytes, sl.fieldsStart, out.headers);
  return r;
}

namespace {

/// RFC 9112 §4: HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF. We also
/// accept "HTTP/1.1 200" CRLF without the SP, as many origins send it.
ParseOutcome scanStatusLine(std::string_view b, const ParseLimits& limits, StartLine& sl) {
  constexpr int kErr = 502;
  constexpr std::string_view kTooLarge = "header section too large";
  const size_t bound = limits.maxHeaderBytes;
  const size_t stop = std::min(b.size(), bound);
  ParseOutcome r = scanVersion(b, 0, bound, kErr, kTooLarge, kErr);
  if (r.status != ParseStatus::kDone) return r;
  size_t j = 8;
  if (j >= stop) return beyond(j, b.size(), kErr, kTooLarge);
  if (b[j] != ' ') return ParseOutcome::invalid(kErr, j, "missing SP after version");
  sl.secondStart = ++j;
  for (; j < sl.secondStart + 3; ++j) {
    if (j >= stop) return beyond(j, b.size(), kErr, kTooLarge);
    if (!isDigit(b[j])) return ParseOutcome::invalid(kErr, j, "malformed status code");
  }
  sl.secondEnd = j;
  if (j >= stop) return beyond(j, b.size(), kErr, kTooLarge);
  if (b[j] == ' ') {
    ++j;
    while (j < stop && isFieldValueByte(b[j])) ++j;
  }
  sl.thirdStart = std::min(sl.secondEnd + 1, j);
  sl.thirdEnd = j;
  r = scanCrlf(b, j, bound, kErr, kTooLarge, kErr);
  if (r.status != ParseStatus::kDone) return r;
  sl.fieldsStart = r.consumed;
  if (b[5] != '1' || (b[7] != '0' && b[7] != '1')) {
    return ParseOutcome::invalid(kErr, 0, "HTTP version not supported");
  }
  if (b[sl.secondStart] < '1' || b[sl.secondStart] > '5') {
    return ParseOutcome::invalid(kErr, sl.secondStart, "status code out of range");
  }
  return r;
}

}  // namespace

ParseOutcome parseResponseHead(std::string_view bytes, const ParseLimits& limits,
                               ResponseHead& out) {
  // No skipping of leading empty lines: RFC 9112 §2.2 allows it for requests
  // only, and stray bytes from an origin mean its framing cannot be trusted.
  StartLine sl;
  ParseOutcome r = scanStatusLine(bytes, limits, sl);
  if (r.status != ParseStatus::kDone) return r;
  r = scanFields(bytes, sl.fieldsStart, limits.maxHeaderBytes, limits.maxHeaderCount, 502, 502);
  if (r.status != ParseStatus::kDone) return r;

  out.versionMinor = bytes[7] - '0';
  out.status = (bytes[sl.secondStart] - '0') * 100 + (bytes[sl.secondStart + 1] - '0') * 10 +
               (bytes[sl.secondStart + 2] - '0');
  out.reason.assign(bytes.data() + sl.thirdStart, sl.thirdEnd - sl.thirdStart);
  collectFields(bytes, sl.fieldsStart, out.headers);
  return r;
}

}  // namespace portcullis::http
