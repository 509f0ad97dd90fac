#include "daemon/http/chunked_decoder.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "daemon/http/char_class.h"
#include "daemon/http/field_line.h"

namespace portcullis::http {

namespace {

constexpr uint64_t kMaxChunkSize = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
constexpr size_t kMaxSizeDigits = 16;

size_t skipBws(std::string_view s, size_t k) {
  while (k < s.size() && isOws(s[k])) ++k;
  return k;
}

size_t skipToken(std::string_view s, size_t k) {
  while (k < s.size() && isTchar(s[k])) ++k;
  return k;
}

/// quoted-string starting at the DQUOTE at `k` (RFC 9110 §5.6.4); returns the
/// index after the closing DQUOTE, or npos when malformed.
size_t skipQuotedString(std::string_view s, size_t k) {
  ++k;
  while (k < s.size()) {
    const char c = s[k];
    if (c == '"') return k + 1;
    if (c == '\\') {
      if (k + 1 >= s.size() || !isFieldValueByte(s[k + 1])) return std::string_view::npos;
      k += 2;
    } else if (isQdtext(c)) {
      ++k;
    } else {
      return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

/// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// (RFC 9112 §7.1.1). True when all of `s` matches.
bool validChunkExt(std::string_view s) {
  size_t k = 0;
  while (k < s.size()) {
    k = skipBws(s, k);
    if (k >= s.size() || s[k] != ';') return false;
    k = skipBws(s, k + 1);
    const size_t nameEnd = skipToken(s, k);
    if (nameEnd == k) return false;
    k = nameEnd;
    const size_t afterBws = skipBws(s, k);
    if (afterBws < s.size() && s[afterBws] == '=') {
      k = skipBws(s, afterBws + 1);
      if (k < s.size() && s[k] == '"') {
        k = skipQuotedString(s, k);
        if (k == std::string_view::npos) return false;
      } else {
        const size_t valueEnd = skipToken(s, k);
        if (valueEnd == k) return false;
        k = valueEnd;
      }
    }
    // Otherwise whitespace after the name is only fine before another ';'.
  }
  return true;
}

}  // namespace

void ChunkedDecoder::reset() {
  state_ = State::kSizeLine;
  line_.clear();
  chunkRemaining_ = 0;
  payloadBytes_ = 0;
  trailerBytes_ = 0;
  error_ = {};
}

ParseOutcome ChunkedDecoder::fail(size_t offset, std::string_view why) {
  state_ = State::kInvalid;
  error_ = why;
  line_.clear();
  return ParseOutcome::invalid(400, offset, why);
}

std::string_view ChunkedDecoder::onSizeLine(std::string_view content) {
  size_t k = 0;
  uint64_t size = 0;
  while (k < content.size() && isHexDigit(content[k])) {
    if (k == kMaxSizeDigits) return "chunk size has too many digits";
    size = size * 16 + hexValue(content[k]);
    ++k;
  }
  if (k == 0) return "chunk size is not a hex number";
  if (size > kMaxChunkSize) return "chunk size too large";
  if (!validChunkExt(content.substr(k))) return "junk after chunk size";
  if (size == 0) {
    state_ = State::kTrailer;
  } else {
    chunkRemaining_ = size;
    state_ = State::kData;
  }
  return {};
}

std::string_view ChunkedDecoder::onLine(std::string_view line) {
  // Every line ends in CRLF; a bare LF terminator is refused (RFC 9112 §2.2).
  if (line.size() < 2 || line[line.size() - 2] != '\r') return "line not terminated by CRLF";
  if (state_ == State::kSizeLine) return onSizeLine(line.substr(0, line.size() - 2));
  if (line.size() == 2) {
    state_ = State::kDone;
    return {};
  }
  // RFC 9112 §7.1.2: trailer fields follow the header field syntax; we drop them.
  const FieldLineScan s = scanFieldLine(line, 0, line.size());
  if (s.status != LineScan::kOk || s.next != line.size()) {
    return s.reason.empty() ? "malformed trailer field" : s.reason;
  }
  return {};
}

ParseOutcome ChunkedDecoder::decode(std::string_view in, std::string& out) {
  if (state_ == State::kInvalid) return ParseOutcome::invalid(400, 0, error_);
  if (state_ == State::kDone) return ParseOutcome::done(0);
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    switch (state_) {
      case State::kSizeLine:
      case State::kTrailer: {
        const void* lf = std::memchr(in.data() + i, '\n', n - i);
        const size_t take =
            lf ? static_cast<size_t>(static_cast<const char*>(lf) - (in.data() + i)) + 1 : n - i;
        if (line_.size() + take > limits_.maxLineBytes) return fail(i, "chunk line too long");
        if (state_ == State::kTrailer) {
          trailerBytes_ += take;
          if (trailerBytes_ > limits_.maxTrailerBytes) return fail(i, "trailer section too large");
        }
        if (lf == nullptr) {
          line_.append(in.data() + i, take);
          i = n;
          break;
        }
        std::string_view line = in.substr(i, take);
        if (!line_.empty()) {
          line_.append(line);
          line = line_;
        }
        const std::string_view why = onLine(line);
        if (!why.empty()) return fail(i, why);
        line_.clear();
        i += take;
        if (state_ == State::kDone) return ParseOutcome::done(i);
        break;
      }
      case State::kData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(chunkRemaining_, n - i));
        out.append(in.data() + i, take);
        i += take;
        chunkRemaining_ -= take;
        payloadBytes_ += take;
        if (chunkRemaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (in[i] != '\r') return fail(i, "chunk data not followed by CRLF");
        ++i;
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (in[i] != '\n') return fail(i, "chunk data not followed by CRLF");
        ++i;
        state_ = State::kSizeLine;
        break;
      case State::kDone:
      case State::kInvalid:
        break;  // unreachable: both return before or inside the loop
    }
  }
  return ParseOutcome{ParseStatus::kNeedMore, n, 0, 0, {}};
}

void appendChunk(std::string& out, std::string_view data) {
  char hex[16];
  size_t len = 0;
  uint64_t v = data.size();
  do {
    hex[len++] = "0123456789abcdef"[v & 0xf];
    v >>= 4;
  } while (v != 0);
  out.reserve(out.size() + len + data.size() + 4);
  while (len > 0) out.push_back(hex[--len]);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

void appendLastChunk(std::string& out) {
  out.append("0\r\n\r\n");
}

}  // namespace portcullis::http
