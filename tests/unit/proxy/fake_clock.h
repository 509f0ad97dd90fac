#pragma once
// A Clock the test sets: steady and system time stand still until the test
// moves them. Only what reads the injected Clock sees it (rate limits, the
// abuse guard, cache ages and dates, deadlines computed from `now`);
// libevent's timers run on real time, so a timeout test configures a short
// timeout and waits for the event with a deadline.

#include <chrono>

#include "daemon/base/clock.h"

namespace portcullis::testing {

class FakeClock final : public Clock {
 public:
  /// Steady time starts at the real steady now (so that libevent-derived
  /// and faked instants stay comparable); system time at a fixed date,
  /// 2026-01-01T00:00:00Z, so that HTTP dates in a test are reproducible.
  FakeClock()
      : steady_(std::chrono::steady_clock::now()),
        system_(SystemTime(std::chrono::seconds(1767225600))) {}

  std::chrono::steady_clock::time_point steadyNow() const override { return steady_; }
  SystemTime systemNow() const override { return system_; }

  /// Moves both clocks forward by `d` (time passes).
  void advance(std::chrono::milliseconds d) {
    steady_ += d;
    system_ += d;
  }
  void setSteady(std::chrono::steady_clock::time_point t) { steady_ = t; }
  void setSystem(SystemTime t) { system_ = t; }

 private:
  std::chrono::steady_clock::time_point steady_;
  SystemTime system_;
};

}  // namespace portcullis::testing
