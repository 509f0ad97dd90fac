#include "cache/stored_entry.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace portcullis::cache {

Result<UniqueFd> StoredEntry::openBody() const {
  UniqueFd fd(::open(bodyPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return makeError("cache body " + bodyPath + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return makeError("cache body fstat: " + std::string(std::strerror(errno)));
  // A body shorter or longer than indexed (e.g. after an OS crash without
  // fsync) must never be served.
  if (static_cast<uint64_t>(st.st_size) != bodySize) {
    return makeError("cache body " + bodyPath + ": size " + std::to_string(st.st_size) +
                     " differs from indexed " + std::to_string(bodySize));
  }
  return fd;
}

}  // namespace portcullis::cache
