#pragma once
// A strict reader for one flat JSON object per line, as the access log
// writes them: string, number, true/false/null and arrays of strings as
// values; nothing nested deeper. Pure, no allocation per line once warm.
// Not a general JSON library: a nested object or an array of non-strings is
// reported as unsupported, never guessed at.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::replay {

/// One member of a flat object.
struct FlatField {
  enum class Kind { kString, kNumber, kBool, kNull, kStringArray };
  std::string key;
  Kind kind = Kind::kNull;
  std::string text;                ///< kString: unescaped; kNumber/kBool: as written
  std::vector<std::string> items;  ///< kStringArray: unescaped elements
};

/// The members of one object, in the order written. Reused line after line:
/// parse() keeps the strings' capacity.
class FlatJson {
 public:
  /// Parses `line` (one object, optional surrounding blanks). Returns false
  /// with `error()` ("offset N: what") on anything but a valid flat object.
  bool parse(std::string_view line);
  const std::string& error() const { return error_; }

  /// The member named `key`, or nullptr. A key written twice: the last.
  const FlatField* find(std::string_view key) const;
  /// The string member `key`; "" when absent, null or not a string.
  std::string_view string(std::string_view key) const;

 private:
  class Cursor;
  std::vector<FlatField> fields_;
  size_t used_ = 0;
  std::string error_;
};

}  // namespace portcullis::replay
