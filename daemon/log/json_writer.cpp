#include "daemon/log/json_writer.h"

#include <cmath>

#include <fmt/format.h>

namespace portcullis::log {
namespace {

constexpr std::string_view kReplacement = "\\ufffd";
constexpr char kHex[] = "0123456789abcdef";

bool isContinuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Length of the valid UTF-8 sequence that starts at text[i] (2..4), or the
// length of its maximal invalid subpart as a negative number (-1..-3).
// RFC 3629 §4 table: the second byte's allowed range depends on the lead
// byte, which is what excludes overlongs, surrogates and > U+10FFFF.
int utf8Sequence(std::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  int need = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return -1;  // C0, C1, F5..FF, or a stray continuation byte
  }
  size_t j = i + 1;
  for (int k = 0; k < need; ++k, ++j) {
    if (j >= text.size()) return -static_cast<int>(j - i);
    const auto c = static_cast<unsigned char>(text[j]);
    const bool ok = k == 0 ? (c >= lo && c <= hi) : isContinuation(c);
    if (!ok) return -static_cast<int>(j - i);
  }
  return need + 1;
}

void appendControl(std::string& out, unsigned char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    default:
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
  }
}

}  // namespace

void appendEscaped(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size() + 2);
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) {
        appendControl(out, c);
      } else if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const int n = utf8Sequence(text, i);
    if (n > 0) {
      out.append(text.substr(i, static_cast<size_t>(n)));
      i += static_cast<size_t>(n);
    } else {
      out += kReplacement;
      i += static_cast<size_t>(-n);
    }
  }
}

void appendQuoted(std::string& out, std::string_view text) {
  out.push_back('"');
  appendEscaped(out, text);
  out.push_back('"');
}

void appendNumber(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", value);
}

void JsonObject::key(std::string_view name) {
  if (!first_) out_.push_back(',');
  first_ = false;
  appendQuoted(out_, name);
  out_.push_back(':');
}

JsonObject& JsonObject::field(std::string_view name, std::string_view value) {
  key(name);
  appendQuoted(out_, value);
  return *this;
}

JsonObject& JsonObject::field(std::string_view name, bool value) {
  key(name);
  out_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::field(std::string_view name, double value) {
  key(name);
  appendNumber(out_, value);
  return *this;
}

JsonObject& JsonObject::null(std::string_view name) {
  key(name);
  out_ += "null";
  return *this;
}

JsonObject& JsonObject::raw(std::string_view name, std::string_view json) {
  key(name);
  out_ += json;
  return *this;
}

std::string JsonObject::finish() {
  out_.push_back('}');
  return std::move(out_);
}

void JsonArray::sep() {
  if (!first_) out_.push_back(',');
  first_ = false;
}

JsonArray& JsonArray::raw(std::string_view json) {
  sep();
  out_ += json;
  return *this;
}

JsonArray& JsonArray::value(std::string_view text) {
  sep();
  appendQuoted(out_, text);
  return *this;
}

JsonArray& JsonArray::value(double number) {
  sep();
  appendNumber(out_, number);
  return *this;
}

std::string JsonArray::finish() {
  out_.push_back(']');
  return std::move(out_);
}

}  // namespace portcullis::log
