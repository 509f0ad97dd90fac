#pragma once
// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1).

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/http/parse_outcome.h"

namespace portcullis::http {

/// Feed it bytes as they arrive; it appends the decoded payload to `out`.
/// Keeps only a small state between calls (where in the chunk grammar it is).
/// Strict: chunk-size must be 1-16 hex digits without leading/trailing junk
/// and at most 2^63-1; BWS is allowed only before a ';' (RFC 9112 §7.1.1);
/// chunk extensions are parsed and ignored; CRLF exactly; trailer fields are validated like header
/// fields and discarded.
class ChunkedDecoder {
 public:
  struct Limits {
    size_t maxLineBytes = 4096;  ///< a chunk-size line or trailer line longer than this is invalid
    size_t maxTrailerBytes = 16384;  ///< total trailer section
  };

  ChunkedDecoder() = default;
  explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

  /// Consumes from `in`. Returns kNeedMore with consumed == in.size() (all
  /// bytes taken; some may be kept internally for a partial line), kDone with
  /// the number of bytes used up to and including the final CRLF (bytes after
  /// it belong to the next message), or kInvalid.
  /// After kDone, further calls return kDone with consumed 0; after
  /// kInvalid they keep returning kInvalid. errorOffset is relative to `in`;
  /// errorStatus is 400 (a caller decoding a response answers 502 instead).
  ParseOutcome decode(std::string_view in, std::string& out);

  bool finished() const { return state_ == State::kDone; }
  /// Ready to decode a new body (keeps the limits).
  void reset();
  /// Payload bytes decoded so far.
  uint64_t payloadBytes() const { return payloadBytes_; }

 private:
  enum class State { kSizeLine, kData, kDataCr, kDataLf, kTrailer, kDone, kInvalid };

  /// Handles one complete line (ending in LF) in kSizeLine or kTrailer;
  /// returns what is wrong with it, empty when it is fine.
  std::string_view onLine(std::string_view line);
  std::string_view onSizeLine(std::string_view content);
  ParseOutcome fail(size_t offset, std::string_view why);

  Limits limits_;
  State state_ = State::kSizeLine;
  std::string line_;  ///< partial size or trailer line
  uint64_t chunkRemaining_ = 0;
  uint64_t payloadBytes_ = 0;
  size_t trailerBytes_ = 0;
  std::string_view error_;  ///< static text, once kInvalid
};

/// Appends one chunk (size line, data, CRLF) to `out`; empty data is not allowed here.
void appendChunk(std::string& out, std::string_view data);
/// Appends the last-chunk and empty trailer: "0\r\n\r\n".
void appendLastChunk(std::string& out);

}  // namespace portcullis::http
