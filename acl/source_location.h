#pragma once

#include <string>

namespace portcullis::acl {

/// Where a rule or set came from in the config, for logs and error pages.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  /// "file:line" (the column is for diagnostics only).
  std::string toString() const;
};

}  // namespace portcullis::acl
