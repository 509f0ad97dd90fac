#pragma once
// Typed reads from a toml++ table that report every problem as a Diagnostic
// at the value's line and column, and never stop at the first one.

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/diagnostic.h"

namespace portcullis::config {

class TomlReader {
 public:
  TomlReader(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  const std::string& file() const { return file_; }
  /// Errors reported so far (warnings not counted).
  size_t errorCount() const { return errors_; }
  void error(const toml::source_region& where, std::string message);
  void warning(const toml::source_region& where, std::string message);
  void add(Severity s, std::string file, int line, int column, std::string message);

  /// Each getter: when `key` is absent, returns false and leaves `out`
  /// alone; when present but wrong, reports it and returns false.
  bool getString(const toml::table& t, std::string_view key, std::string& out);
  bool getBool(const toml::table& t, std::string_view key, bool& out);
  bool getInteger(const toml::table& t, std::string_view key, int64_t min, int64_t max,
                  int64_t& out);
  bool getDuration(const toml::table& t, std::string_view key, std::chrono::milliseconds& out);
  /// A string with a unit such as "10 GiB" (or 0). A bare number is an
  /// error naming the fix: "10" would otherwise be read as 10 bytes.
  bool getSize(const toml::table& t, std::string_view key, uint64_t& out);
  /// Array of strings; bad elements are reported and skipped. `where`
  /// receives each kept element's source position.
  bool getStringArray(const toml::table& t, std::string_view key, std::vector<std::string>& out,
                      std::vector<toml::source_region>* where = nullptr);

  /// "a string", "an integer", ... for messages.
  static std::string typeName(const toml::node& n);

 private:
  std::string file_;
  std::vector<Diagnostic>& out_;
  size_t errors_ = 0;
};

/// The message for a TOML syntax error at 1-based `line` of `text`:
/// toml++'s description, plus how to quote the value when the line reads
/// `key = 10 GiB` or `key = 30s` (sizes and durations are strings).
std::string describeParseError(std::string_view description, std::string_view text, size_t line);

/// Reports every key of the document that is not in the schema, with a
/// "did you mean" hint when a known key is close.
void checkUnknownKeys(TomlReader& reader, const toml::table& root);

/// A path written in the config: absolute as written, relative to the
/// config file's directory `baseDir` (as nginx does for its includes), or
/// as written when there is no such directory (a config read from text).
inline std::string configPath(const std::string& baseDir, const std::string& path) {
  if (path.empty() || path.starts_with('/') || baseDir.empty()) return path;
  return baseDir + "/" + path;
}

}  // namespace portcullis::config
