#pragma once
// A strict, minimal JSON reader for tests only: it checks that what our
// writers produce is valid JSON (RFC 8259) and lets tests look inside.
// Throws std::runtime_error on anything invalid.

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/utf8.h"

namespace portcullis::testing {

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;  // decoded
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;

  const JsonValue* find(std::string_view key) const {
    for (const auto& [k, v] : object)
      if (k == key) return &v;
    return nullptr;
  }
  const JsonValue& at(std::string_view key) const {
    const JsonValue* v = find(key);
    if (v == nullptr) throw std::runtime_error("missing key " + std::string(key));
    return *v;
  }
};

class JsonReader {
 public:
  static JsonValue parse(std::string_view text) {
    JsonReader r(text);
    r.ws();
    JsonValue v = r.value(0);
    r.ws();
    if (r.i_ != text.size()) r.fail("trailing bytes");
    return v;
  }

 private:
  explicit JsonReader(std::string_view t) : t_(t) {}
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("JSON invalid at " + std::to_string(i_) + ": " + why);
  }
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }
  bool eat(char c) {
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void lit(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) fail("bad literal");
    i_ += w.size();
  }
  JsonValue value(int depth) {
    if (depth > 64) fail("too deep");
    if (i_ >= t_.size()) fail("unexpected end");
    JsonValue v;
    const char c = t_[i_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      v.type = JsonValue::Type::kString;
      v.string = str();
    } else if (c == 't') {
      lit("true");
      v.type = JsonValue::Type::kBool;
      v.boolean = true;
    } else if (c == 'f') {
      lit("false");
      v.type = JsonValue::Type::kBool;
    } else if (c == 'n') {
      lit("null");
    } else {
      v.type = JsonValue::Type::kNumber;
      v.number = num();
    }
    return v;
  }
  JsonValue object(int depth) {
    JsonValue v;
    v.type = JsonValue::Type::kObject;
    ++i_;
    ws();
    if (eat('}')) return v;
    for (;;) {
      ws();
      if (i_ >= t_.size() || t_[i_] != '"') fail("key expected");
      std::string k = str();
      ws();
      if (!eat(':')) fail("colon expected");
      ws();
      v.object.emplace_back(std::move(k), value(depth + 1));
      ws();
      if (eat('}')) return v;
      if (!eat(',')) fail("comma expected");
    }
  }
  JsonValue array(int depth) {
    JsonValue v;
    v.type = JsonValue::Type::kArray;
    ++i_;
    ws();
    if (eat(']')) return v;
    for (;;) {
      ws();
      v.array.push_back(value(depth + 1));
      ws();
      if (eat(']')) return v;
      if (!eat(',')) fail("comma expected");
    }
  }
  double num() {
    const size_t start = i_;
    eat('-');
    if (eat('0')) {
    } else if (digits() == 0) {
      fail("digit expected");
    }
    if (eat('.') && digits() == 0) fail("fraction digits expected");
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (digits() == 0) fail("exponent digits expected");
    }
    return std::stod(std::string(t_.substr(start, i_ - start)));
  }
  size_t digits() {
    size_t n = 0;
    while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_, ++n;
    return n;
  }
  uint32_t hex4() {
    if (i_ + 4 > t_.size()) fail("short \\u");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = t_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        fail("bad hex");
    }
    return v;
  }
  std::string str() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      if (i_ >= t_.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) fail("raw control byte in string");
      if (c == '\\') {
        ++i_;
        if (i_ >= t_.size()) fail("dangling backslash");
        const char e = t_[i_++];
        switch (e) {
          case '"':
            out.push_back('"');
            break;
          case '\\':
            out.push_back('\\');
            break;
          case '/':
            out.push_back('/');
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'u':
            appendUtf8(out, hex4());
            break;
          default:
            fail("bad escape");
        }
        continue;
      }
      out.push_back(static_cast<char>(c));
      ++i_;
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

/// True when `s` is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF).
inline bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else
      return false;
    if (i + static_cast<size_t>(n) >= s.size()) return false;  // truncated
    for (int k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

}  // namespace portcullis::testing
