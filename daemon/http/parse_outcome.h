#pragma once
// The three outcomes of every parser: need more, done, invalid.

#include <cstddef>
#include <string_view>

namespace portcullis::http {

enum class ParseStatus { kNeedMore, kDone, kInvalid };

struct ParseOutcome {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;      ///< bytes used when kDone
  int errorStatus = 0;      ///< HTTP status to answer when kInvalid (400, 414, 431, 501, 505)
  size_t errorOffset = 0;   ///< offset of the offending byte when kInvalid
  std::string_view reason;  ///< static string saying what was wrong, when kInvalid

  static ParseOutcome needMore() { return {}; }
  static ParseOutcome done(size_t n) { return {ParseStatus::kDone, n, 0, 0, {}}; }
  static ParseOutcome invalid(int status, size_t offset, std::string_view why) {
    return {ParseStatus::kInvalid, 0, status, offset, why};
  }
};

}  // namespace portcullis::http
