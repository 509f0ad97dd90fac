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

/// Now, for deadlines (steady) and HTTP dates/ages (system). Shells read it;
/// tests fake it. Implementations are read from one loop thread at a time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point steadyNow() const = 0;
  virtual SystemTime systemNow() const = 0;
};

/// The real clocks.
class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::now();
  }
  SystemTime systemNow() const override { return std::chrono::system_clock::now(); }
};

}  // namespace portcullis
