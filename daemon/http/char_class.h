#pragma once
// Byte classes of the HTTP grammar (RFC 9110 §5.6, RFC 9112, RFC 3986) as one
// 256-entry table, so the parsers' inner loops are a load and a test per byte.

#include <array>
#include <cstdint>
#include <string_view>

namespace portcullis::http {

namespace detail {

enum CharClass : uint8_t {
  kClassTchar = 1,       ///< token character (RFC 9110 §5.6.2)
  kClassFieldValue = 2,  ///< SP, HTAB, VCHAR, obs-text: bytes allowed inside a field value
  kClassTarget = 4,      ///< visible ASCII 0x21-0x7E: bytes allowed in a request-target
  kClassHex = 8,         ///< HEXDIG
  kClassQdtext = 16,     ///< qdtext of quoted-string (RFC 9110 §5.6.4)
  kClassHost = 32,       ///< ALPHA DIGIT "-" "." "_": the reg-name subset we accept
};

constexpr std::array<uint8_t, 256> makeCharTable() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool vchar = c >= 0x21 && c <= 0x7e;
    const bool obsText = c >= 0x80;
    if (alpha || digit ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      v |= kClassTchar;
    }
    if (vchar || obsText || c == ' ' || c == '\t') v |= kClassFieldValue;
    if (vchar) v |= kClassTarget;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kClassHex;
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
        (c >= 0x5d && c <= 0x7e) || obsText) {
      v |= kClassQdtext;
    }
    if (alpha || digit || c == '-' || c == '.' || c == '_') v |= kClassHost;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kCharTable = makeCharTable();

inline bool hasClass(char c, uint8_t cls) {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
}

}  // namespace detail

inline bool isTchar(char c) {
  return detail::hasClass(c, detail::kClassTchar);
}
inline bool isFieldValueByte(char c) {
  return detail::hasClass(c, detail::kClassFieldValue);
}
inline bool isTargetByte(char c) {
  return detail::hasClass(c, detail::kClassTarget);
}
inline bool isHexDigit(char c) {
  return detail::hasClass(c, detail::kClassHex);
}
inline bool isQdtext(char c) {
  return detail::hasClass(c, detail::kClassQdtext);
}
inline bool isHostByte(char c) {
  return detail::hasClass(c, detail::kClassHost);
}
inline bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
inline bool isOws(char c) {
  return c == ' ' || c == '\t';
}

inline char toLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Value of a hex digit; only meaningful when isHexDigit(c).
inline unsigned hexValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  return static_cast<unsigned>(toLowerAscii(c) - 'a' + 10);
}

/// True when `s` is a non-empty token (RFC 9110 §5.6.2).
bool isToken(std::string_view s);

/// True when `s` is a valid field value: no CR, LF, NUL or other control
/// characters except HTAB (RFC 9110 §5.5). Does not require trimming.
bool isValidFieldValue(std::string_view s);

/// `s` without leading and trailing SP/HTAB (OWS, RFC 9110 §5.6.3).
std::string_view trimOws(std::string_view s);

/// `s` as 1*DIGIT of at most `maxDigits` digits (18 keeps the value within
/// 63 bits, 19 within 64). False for an empty or longer `s`, or any non-digit.
inline bool parseDigits(std::string_view s, size_t maxDigits, uint64_t& out) {
  if (s.empty() || s.size() > maxDigits || maxDigits > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace portcullis::http
