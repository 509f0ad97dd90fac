#include "daemon/base/unique_handle.h"

#include <unistd.h>

namespace portcullis {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace portcullis
