#include "daemon/replay/flat_json.h"

#include <cstdint>

#include "daemon/base/utf8.h"

namespace portcullis::replay {

// RFC 8259 grammar, restricted to what the access log writes (see header).
class FlatJson::Cursor {
 public:
  Cursor(std::string_view s, std::string& error) : s_(s), error_(error) {}

  void blanks() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
      ++i_;
  }
  bool at(char c) {
    blanks();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool expect(char c) {
    if (at(c)) {
      ++i_;
      return true;
    }
    return fail(std::string("expected '") + c + "'");
  }
  bool done() {
    blanks();
    return i_ == s_.size() || fail("text after the object");
  }
  bool fail(const std::string& what) {
    error_ = "offset " + std::to_string(i_) + ": " + what;
    return false;
  }

  /// A string (the cursor on its opening quote) unescaped into `out`.
  bool string(std::string& out) {
    out.clear();
    if (!expect('"')) return false;
    while (i_ < s_.size()) {
      // Runs of plain bytes are copied at once: most strings have no escape.
      size_t j = i_;
      while (j < s_.size() && s_[j] != '"' && s_[j] != '\\' &&
             static_cast<unsigned char>(s_[j]) >= 0x20) {
        ++j;
      }
      out.append(s_.data() + i_, j - i_);
      i_ = j;
      if (i_ == s_.size()) break;
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') return fail("control byte in a string");
      if (!escape(out)) return false;
    }
    return fail("unterminated string");
  }

  bool number(std::string& out) {
    // RFC 8259 §6: -? int frac? exp?
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return fail("bad number");
    }
    if (i_ < s_.size() && s_[i_] == '.' && (++i_, !digits())) return fail("bad fraction");
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return fail("bad exponent");
    }
    out.assign(s_.substr(start, i_ - start));
    return true;
  }

  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return fail("unexpected value");
    i_ += w.size();
    return true;
  }
  char peek() { return i_ < s_.size() ? s_[i_] : '\0'; }

  /// An array of strings (the cursor on '[') into `f.items`.
  bool array(FlatField& f) {
    f.kind = FlatField::Kind::kStringArray;
    f.text.clear();
    if (!expect('[')) return false;
    if (at(']')) return expect(']');
    do {
      if (!at('"')) return fail("only arrays of strings are read");
      f.items.emplace_back();
      if (!string(f.items.back())) return false;
    } while (at(',') && expect(','));
    return expect(']');
  }

 private:
  bool digits() {
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool hex4(uint32_t& v) {
    if (i_ + 4 > s_.size()) return fail("short \\u escape");
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return fail("bad \\u escape");
      }
    }
    return true;
  }
  bool escape(std::string& out) {
    if (i_ >= s_.size()) return fail("unterminated escape");
    const char c = s_[i_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out.push_back(c);
        return true;
      case 'b':
        out.push_back('\b');
        return true;
      case 'f':
        out.push_back('\f');
        return true;
      case 'n':
        out.push_back('\n');
        return true;
      case 'r':
        out.push_back('\r');
        return true;
      case 't':
        out.push_back('\t');
        return true;
      case 'u':
        return unicode(out);
      default:
        return fail("bad escape");
    }
  }
  // RFC 8259 §7: a character outside the BMP is a surrogate pair; a lone
  // surrogate becomes U+FFFD (the writer never produces one).
  bool unicode(std::string& out) {
    uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(i_, 2) == "\\u") {
      i_ += 2;
      uint32_t lo = 0;
      if (!hex4(lo)) return false;
      cp =
          (lo >= 0xDC00 && lo <= 0xDFFF) ? 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00) : 0xFFFD;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    appendUtf8(out, cp);
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string& error_;
};

bool FlatJson::parse(std::string_view line) {
  used_ = 0;
  error_.clear();
  Cursor c(line, error_);
  if (!c.expect('{')) return false;
  if (c.at('}')) return c.expect('}') && c.done();
  do {
    if (used_ == fields_.size()) fields_.emplace_back();
    FlatField& f = fields_[used_++];
    f.items.clear();
    if (!c.at('"')) return c.fail("expected a key");
    if (!c.string(f.key) || !c.expect(':')) return false;
    c.blanks();
    const char p = c.peek();
    bool ok = true;
    if (p == '"') {
      f.kind = FlatField::Kind::kString;
      ok = c.string(f.text);
    } else if (p == '-' || (p >= '0' && p <= '9')) {
      f.kind = FlatField::Kind::kNumber;
      ok = c.number(f.text);
    } else if (p == 't' || p == 'f') {
      f.kind = FlatField::Kind::kBool;
      f.text = p == 't' ? "true" : "false";
      ok = c.word(f.text);
    } else if (p == 'n') {
      f.kind = FlatField::Kind::kNull;
      f.text.clear();
      ok = c.word("null");
    } else if (p == '[') {
      ok = c.array(f);
    } else {
      return c.fail(p == '{' ? "nested object (not an access record)" : "expected a value");
    }
    if (!ok) return false;
  } while (c.at(',') && c.expect(','));
  return c.expect('}') && c.done();
}

const FlatField* FlatJson::find(std::string_view key) const {
  for (size_t i = used_; i > 0; --i) {
    if (fields_[i - 1].key == key) return &fields_[i - 1];
  }
  return nullptr;
}

std::string_view FlatJson::string(std::string_view key) const {
  const FlatField* f = find(key);
  return f != nullptr && f->kind == FlatField::Kind::kString ? std::string_view(f->text)
                                                             : std::string_view();
}

}  // namespace portcullis::replay
