#pragma once
// Ordered header fields with case-insensitive lookup (RFC 9110 §5.1).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::http {

struct HeaderField {
  std::string name;   ///< as received (case preserved for forwarding)
  std::string value;  ///< leading/trailing whitespace already trimmed (RFC 9110 §5.5)
};

/// Case-insensitive ASCII comparison of field names and tokens.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

/// True when the comma-separated `list` has a member equal to `token`
/// (case-insensitive, members trimmed of OWS, RFC 9110 §5.6.1).
bool listContainsToken(std::string_view list, std::string_view token);

/// Header fields in the order received. Small (tens of fields): linear scans.
class HeaderMap {
 public:
  void add(std::string name, std::string value);
  /// Removes every field with this name; returns how many were removed.
  size_t remove(std::string_view name);
  /// Replaces all fields of this name with one.
  void set(std::string name, std::string value);
  bool has(std::string_view name) const;
  /// First value of the field, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  /// All values of the field in order (each a separate field line).
  std::vector<std::string_view> getAll(std::string_view name) const;
  /// Field values joined by ", " as RFC 9110 §5.3 allows for list fields.
  std::optional<std::string> getCombined(std::string_view name) const;
  /// True when a comma-separated list field contains `token` (case-insensitive),
  /// e.g. hasToken("Connection", "close").
  bool hasToken(std::string_view name, std::string_view token) const;
  /// Number of field lines with this name.
  size_t count(std::string_view name) const;

  const std::vector<HeaderField>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  void clear() { fields_.clear(); }

 private:
  std::vector<HeaderField> fields_;
};

}  // namespace portcullis::http
