#pragma once
// Whether each parent proxy is up, and its counters, shared by every
// worker. A parent is down from a failed connect (a request's, or the
// active check's) until [parents] retry_after has passed or a check
// connects again. Keyed by name, so a reload keeps the state of the
// parents it keeps. Thread-safe.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace portcullis::proxy {

/// One parent's state; lives as long as the ParentHealth (stable address).
struct ParentState {
  std::atomic<int64_t> downUntilMs{0};  ///< steady clock, ms; 0 = up
  std::atomic<uint64_t> requests{0};    ///< requests sent through it (connected)
  std::atomic<uint64_t> failures{0};    ///< failed connects (requests and checks)

  bool up(std::chrono::steady_clock::time_point now) const {
    return downUntilMs.load(std::memory_order_relaxed) <= msOf(now);
  }
  void markDown(std::chrono::steady_clock::time_point now, std::chrono::milliseconds retryAfter) {
    downUntilMs.store(msOf(now + retryAfter), std::memory_order_relaxed);
  }
  void markUp() { downUntilMs.store(0, std::memory_order_relaxed); }

  static int64_t msOf(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }
};

class ParentHealth {
 public:
  /// The state of the parent called `name`, made on first use.
  ParentState& state(const std::string& name);

  struct Row {
    std::string name;
    bool up = true;
    uint64_t requests = 0;
    uint64_t failures = 0;
  };
  /// Every parent seen so far, by name (for /metrics).
  std::vector<Row> rows(std::chrono::steady_clock::time_point now) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<ParentState>> states_;
};

}  // namespace portcullis::proxy
