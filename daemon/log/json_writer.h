#pragma once
// A tiny JSON object builder for log lines and status documents. It only
// writes: nothing here parses JSON. Output never contains a raw newline, so
// one object is always exactly one line of a JSON-lines file.

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::log {

/// Appends `text` escaped as the inside of a JSON string (no quotes).
/// Escapes `"` and `\`, every byte below 0x20 and 0x7f (DEL), and replaces
/// each invalid UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated,
/// stray continuation byte) by `\ufffd`, one per maximal invalid subpart
/// (Unicode §3.9 "U+FFFD substitution of maximal subparts"). Valid UTF-8
/// above U+007F is copied as is. Hostile input therefore can neither end
/// the string early, start a new line, nor make the line invalid UTF-8.
void appendEscaped(std::string& out, std::string_view text);

/// appendEscaped between double quotes.
void appendQuoted(std::string& out, std::string_view text);

/// Appends a finite double in shortest round-trip form; NaN and infinities
/// (which JSON cannot express) become `null`.
void appendNumber(std::string& out, double value);

/// Builds one JSON object `{"a":1,"b":"x"}` field by field. Field names are
/// escaped too, although callers pass constants. Not thread-safe; cheap.
class JsonObject {
 public:
  JsonObject() { out_.push_back('{'); }

  JsonObject& field(std::string_view name, std::string_view value);
  JsonObject& field(std::string_view name, const char* value) {
    return field(name, std::string_view(value));
  }
  JsonObject& field(std::string_view name, const std::string& value) {
    return field(name, std::string_view(value));
  }
  JsonObject& field(std::string_view name, bool value);
  JsonObject& field(std::string_view name, double value);
  template <std::integral T>
  requires(!std::same_as<T, bool>) JsonObject& field(std::string_view name, T value) {
    key(name);
    out_ += std::to_string(value);
    return *this;
  }
  /// `"name":null`.
  JsonObject& null(std::string_view name);
  /// `"name":<json>` where `json` is already valid JSON (a nested object or
  /// array built by the caller). The caller vouches for its validity.
  JsonObject& raw(std::string_view name, std::string_view json);
  /// The string field when `value` is non-empty, null otherwise.
  JsonObject& optional(std::string_view name, std::string_view value) {
    return value.empty() ? null(name) : field(name, value);
  }

  /// Closes the object and returns its text; the builder is spent after.
  std::string finish();

 private:
  void key(std::string_view name);
  std::string out_;
  bool first_ = true;
};

/// Builds a JSON array of already-valid JSON values.
class JsonArray {
 public:
  JsonArray() { out_.push_back('['); }
  JsonArray& raw(std::string_view json);
  JsonArray& value(std::string_view text);  ///< a quoted string element
  JsonArray& value(double number);
  std::string finish();

 private:
  void sep();
  std::string out_;
  bool first_ = true;
};

}  // namespace portcullis::log
