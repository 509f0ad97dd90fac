#include "daemon/http/field_line.h"

#include <algorithm>

#include "daemon/http/char_class.h"

namespace portcullis::http {

namespace {

FieldLineScan invalid(size_t at, std::string_view why) {
  return {LineScan::kInvalid, 0, at, why};
}

// The byte at `index` was needed but lies beyond what we may look at.
FieldLineScan beyond(size_t index, size_t size) {
  return {index >= size ? LineScan::kNeedMore : LineScan::kLimit, 0, index, {}};
}

}  // namespace

FieldLineScan scanFieldLine(std::string_view bytes, size_t start, size_t limit) {
  const char* p = bytes.data();
  const size_t n = bytes.size();
  const size_t stop = std::min(n, limit);
  size_t j = start;
  if (j >= stop) return beyond(j, n);
  // RFC 9112 §5.2: obs-fold is refused; a line may not start with whitespace.
  if (isOws(p[j])) return invalid(j, "obs-fold or whitespace before field name");
  while (j < stop && isTchar(p[j])) ++j;
  if (j >= stop) return beyond(j, n);
  if (p[j] != ':') {
    if (isOws(p[j])) return invalid(j, "whitespace between field name and colon");
    if (p[j] == '\r' || p[j] == '\n') return invalid(j, "field line without colon");
    return invalid(j, "invalid character in field name");
  }
  if (j == start) return invalid(j, "empty field name");
  ++j;
  while (j < stop && isFieldValueByte(p[j])) ++j;
  if (j >= stop) return beyond(j, n);
  if (p[j] == '\r') {
    if (j + 1 >= stop) return beyond(j + 1, n);
    if (p[j + 1] != '\n') return invalid(j, "bare CR");
    return {LineScan::kOk, j + 2, 0, {}};
  }
  if (p[j] == '\n') return invalid(j, "bare LF as line terminator");
  return invalid(j, "control character in field value");
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isTchar(c); });
}

bool isValidFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return isFieldValueByte(c); });
}

std::string_view trimOws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && isOws(s[b])) ++b;
  while (e > b && isOws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace portcullis::http
