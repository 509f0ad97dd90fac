#pragma once
// The event log: what an operator wants to know that is not one request —
// start, stop, reload outcome with its diagnostics, limits hit, a client
// refused again and again. JSON lines through a LogSink (a file or stderr):
//   {"ts":"…","level":"warn","event":"limit_hit","limit":"max_connections","value":10000}

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "daemon/base/clock.h"
#include "daemon/log/log_sink.h"

namespace portcullis::log {

enum class Level { kDebug, kInfo, kWarn, kError };

std::string_view toString(Level level);

/// One extra key of an event. Strings are copied only when the line is built.
struct EventField {
  using Value = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
  EventField(std::string_view n, std::string_view v) : name(n), value(v) {}
  EventField(std::string_view n, const char* v) : name(n), value(std::string_view(v)) {}
  EventField(std::string_view n, const std::string& v) : name(n), value(std::string_view(v)) {}
  EventField(std::string_view n, int v) : name(n), value(int64_t{v}) {}
  EventField(std::string_view n, long v) : name(n), value(int64_t{v}) {}
  EventField(std::string_view n, long long v) : name(n), value(int64_t{v}) {}
  EventField(std::string_view n, unsigned v) : name(n), value(uint64_t{v}) {}
  EventField(std::string_view n, unsigned long v) : name(n), value(uint64_t{v}) {}
  EventField(std::string_view n, unsigned long long v) : name(n), value(uint64_t{v}) {}
  EventField(std::string_view n, double v) : name(n), value(v) {}
  EventField(std::string_view n, bool v) : name(n), value(v) {}
  std::string_view name;
  Value value;
};

/// Builds one event line (no newline): ts, level, event, then the fields in
/// order. Pure; exposed for tests and for callers with their own sink.
std::string formatEvent(SystemTime now, Level level, std::string_view event,
                        std::initializer_list<EventField> fields);

/// Thread-safe front of an event-log sink. Events below the minimum level
/// are discarded. Never blocks on I/O (see LogSink).
class EventLog {
 public:
  EventLog() = default;

  /// Opens the sink; "-" = stderr.
  Result<void> open(const std::string& path) { return sink_.open(path, 2); }
  void setMinLevel(Level level) { minLevel_ = level; }

  /// e.g. emit(Level::kInfo, "start", {{"version", kVersion}, {"workers", 4}}).
  void emit(Level level, std::string_view event, std::initializer_list<EventField> fields = {});

  LogSink& sink() { return sink_; }

 private:
  LogSink sink_;
  Level minLevel_ = Level::kInfo;
};

/// Decides when "client X keeps being refused" deserves an event: the first
/// refusal that reaches `threshold` within `window`, then at most once per
/// window per client, so a scanner cannot flood the event log. Bounded:
/// at most `maxClients` are tracked (oldest windows are forgotten first).
/// Thread-safe; pure apart from its mutex (time is a parameter).
class RefusalTracker {
 public:
  RefusalTracker(uint32_t threshold, std::chrono::milliseconds window, size_t maxClients = 4096)
      : threshold_(threshold), window_(window), maxClients_(maxClients) {}

  /// Counts one refusal of `client`; returns the count in the current window
  /// when an event should be emitted now, 0 otherwise.
  uint32_t note(std::string_view client, SystemTime now);

 private:
  struct Entry {
    SystemTime windowStart;
    uint32_t count = 0;
    bool reported = false;
  };
  void evictOld(SystemTime now);

  uint32_t threshold_;
  std::chrono::milliseconds window_;
  size_t maxClients_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace portcullis::log
