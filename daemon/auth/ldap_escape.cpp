#include "daemon/auth/ldap_escape.h"

namespace portcullis::auth {

namespace {

void appendHex(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '\\';
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

}  // namespace

std::string escapeFilterValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    // RFC 4515 §3: exactly these must be escaped in an assertion value;
    // every other byte, UTF-8 included, stands for itself.
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) {
      appendHex(out, c);
    } else {
      out += ch;
    }
  }
  return out;
}

std::string escapeDnValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    const bool leading = i == 0 && (c == ' ' || c == '#');
    const bool trailing = i + 1 == value.size() && c == ' ';
    if (c < 0x20 || c == 0x7f || leading || trailing) {
      appendHex(out, c);  // RFC 4514 §2.4: hexpair form
    } else if (c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '=' || c == '>' ||
               c == '\\') {
      out += '\\';
      out += value[i];
    } else {
      out += value[i];
    }
  }
  return out;
}

std::string expandPlaceholders(
    std::string_view pattern, const std::vector<std::pair<std::string_view, std::string>>& values) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    bool replaced = false;
    if (pattern[i] == '{') {
      for (const auto& [name, value] : values) {
        if (pattern.substr(i + 1, name.size()) == name &&
            pattern.substr(i + 1 + name.size(), 1) == "}") {
          out += value;
          i += name.size() + 2;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += pattern[i++];
  }
  return out;
}

}  // namespace portcullis::auth
