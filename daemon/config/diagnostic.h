#pragma once

#include <string>
#include <vector>

namespace portcullis::config {

/// kNote: information about what the config means; never fatal, not even
/// under `validate --strict`.
enum class Severity { kError, kWarning, kNote };

/// One problem found in a config file, with where it is.
struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;
  int line = 0;    ///< 1-based; 0 when the problem is about the file as a whole
  int column = 0;
  std::string message;
  /// "file:line:col: error: message" (or "warning:", "note:").
  std::string format() const;
};

bool hasErrors(const std::vector<Diagnostic>& diagnostics);

}  // namespace portcullis::config
