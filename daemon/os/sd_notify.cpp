#include "daemon/os/sd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <cstring>

namespace portcullis::os {

Result<bool> sdNotifyChecked(std::string_view state) {
  // Read-only: no setenv runs concurrently. An empty value counts as unset
  // (libsystemd would call it an invalid address).
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || *name == '\0') return false;
  const int rc = ::sd_notify(0, std::string(state).c_str());
  if (rc < 0) {
    return makeError("sd_notify(NOTIFY_SOCKET=" + std::string(name) + "): " + std::strerror(-rc));
  }
  return rc > 0;
}

void sdNotify(std::string_view state) {
  (void)sdNotifyChecked(state);
}

std::string reloadingState() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ull +
                                  static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace portcullis::os
