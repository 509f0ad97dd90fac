#include "acl/source_location.h"

namespace portcullis::acl {

std::string SourceLocation::toString() const {
  if (file.empty()) return "built-in";
  return file + ":" + std::to_string(line);
}

}  // namespace portcullis::acl
