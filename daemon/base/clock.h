#pragma once
// Time as a parameter: pure code takes `now`, shells read the clock.

#include <chrono>
#include <cstdint>

namespace portcullis {

using SystemTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

/// Seconds since the Unix epoch, as HTTP dates and cache ages use.
inline int64_t toUnixSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace portcullis
