#pragma once
// The one table of every configuration key: its type, default and meaning.
// Unknown-key detection, the README reference and the man page are all
// generated from it, so they cannot drift apart.

#include <string>
#include <string_view>
#include <vector>

namespace portcullis::config {

enum class KeyKind {
  kValue,         ///< a leaf value
  kTable,         ///< a table whose keys are in the schema
  kNamedTables,   ///< a table whose keys are names chosen by the admin ("<name>")
  kArrayOfTables, ///< [[rule]]
};

struct KeySpec {
  std::string_view path;          ///< "server.listen", "sources.<name>.cidrs", "rule.allow.from"
  KeyKind kind = KeyKind::kValue;
  std::string_view type;          ///< for people: "duration", "array of strings", ...
  std::string_view defaultValue;  ///< as TOML, or "" when there is none / required
  std::string_view description;
};

/// Every key, in the order the reference lists them.
const std::vector<KeySpec>& configSchema();

/// The spec for a full path, or nullptr. Admin-chosen names are written
/// "<name>" in `path` ("destinations.<name>.ports").
const KeySpec* findKeySpec(std::string_view path);

/// The keys allowed directly under `parent` ("" for the top level), for
/// "did you mean" hints.
std::vector<std::string_view> childKeys(std::string_view parent);

/// The configuration reference as Markdown (README section).
std::string configReferenceMarkdown();
/// The same as roff for the man page (.SS per section, .TP per key).
std::string configReferenceRoff();

}  // namespace portcullis::config
