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
/// and must not overflow; chunk extensions are parsed and ignored; CRLF
/// exactly; trailer fields are validated like header fields and discarded.
class ChunkedDecoder {
 public:
  struct Limits {
    size_t maxLineBytes = 4096;      ///< a chunk-size line or trailer line longer than this is invalid
    size_t maxTrailerBytes = 16384;  ///< total trailer section
  };

  ChunkedDecoder() = default;
  explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

  /// Consumes from `in`. Returns kNeedMore with consumed == in.size() (all
  /// bytes taken; some may be kept internally for a partial line), kDone with
  /// the number of bytes used up to and including the final CRLF (bytes after
  /// it belong to the next message), or kInvalid.
  ParseOutcome decode(std::string_view in, std::string& out);

  bool finished() const { return state_ == State::kDone; }
  /// Payload bytes decoded so far.
  uint64_t payloadBytes() const { return payloadBytes_; }

 private:
  enum class State { kSizeLine, kData, kDataCr, kDataLf, kTrailer, kDone };
  Limits limits_;
  State state_ = State::kSizeLine;
  std::string line_;           ///< partial size or trailer line
  uint64_t chunkRemaining_ = 0;
  uint64_t payloadBytes_ = 0;
  size_t trailerBytes_ = 0;
};

/// Appends one chunk (size line, data, CRLF) to `out`; empty data is not allowed here.
void appendChunk(std::string& out, std::string_view data);
/// Appends the last-chunk and empty trailer: "0\r\n\r\n".
void appendLastChunk(std::string& out);

}  // namespace portcullis::http
