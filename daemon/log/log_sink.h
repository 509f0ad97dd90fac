#pragma once
// An append-only line log written by its own thread, so that no event-loop
// thread ever waits on the disk. Loop threads hand lines over under a short
// mutex (a vector append); the writer swaps the vector out and writes the
// batch with one write(2) loop, at least every flush interval. The queue is
// bounded: when it is full the line is dropped and counted, never waited on.
// A failed write (disk full, EIO) drops that batch and is counted too.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/base/result.h"

namespace portcullis::log {

/// Snapshot of a sink's counters (lines, not bytes, except queuedBytes).
struct SinkCounters {
  uint64_t written = 0;         ///< lines handed to write(2) successfully
  uint64_t dropped = 0;         ///< refused at submit: queue full or sink stopped
  uint64_t failed = 0;          ///< lost because write(2) failed
  uint64_t reopens = 0;         ///< successful reopen() cycles
  uint64_t reopenFailures = 0;  ///< reopen() could not open the path (old file kept)
  std::string lastError;        ///< last write or reopen error in words; "" = none
};

class LogSink {
 public:
  struct Options {
    size_t maxQueuedBytes = 16u << 20;  ///< beyond this, submit() drops
    size_t wakeBytes = 64u << 10;       ///< wake the writer early at this much
    std::chrono::milliseconds flushInterval{200};
  };

  LogSink();
  explicit LogSink(Options options);
  ~LogSink();  ///< stop(): flushes what is queued
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  /// Opens `path` for appending (created 0640) and starts the writer
  /// thread. "-" writes to `dashFd` instead (stdout for the access log,
  /// stderr for the event log). Call once, at start-up, before submit().
  Result<void> open(const std::string& path, int dashFd = 1);

  /// True between a successful open() and stop().
  bool isOpen() const { return running_.load(std::memory_order_acquire); }

  /// Queues one line; a '\n' is appended. Any thread; never blocks on I/O
  /// and never throws. Counted as dropped when the queue is full or the
  /// sink is not open.
  void submit(std::string line) noexcept;

  /// Asks the writer to reopen the file by path (after logrotate moved it);
  /// returns at once. The writer finishes the batch it holds on the old
  /// file first. On failure the old file is kept and reopenFailures counts.
  /// Thread-safe; not async-signal-safe: call it from the loop that saw
  /// SIGUSR1, not from the signal handler.
  void reopen() noexcept;

  /// Blocks until every line submitted before the call has been written or
  /// counted as failed. For shutdown and tests; not for loop threads.
  void flush();

  /// Flushes and joins the writer. Idempotent.
  void stop();

  SinkCounters counters() const;
  /// The last write or reopen error in words ("" when none yet).
  std::string lastError() const;
  const std::string& path() const { return path_; }

 private:
  void run();
  void writeBatch(std::vector<std::string>& batch);
  void doReopen();

  Options options_;
  std::string path_;
  int fd_ = -1;
  bool ownsFd_ = false;
  std::atomic<bool> running_{false};

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::string> queue_;  // guarded by mu_
  size_t queuedBytes_ = 0;          // guarded by mu_
  uint64_t accepted_ = 0;           // guarded by mu_: lines queued so far
  uint64_t processed_ = 0;          // guarded by mu_: lines written or failed
  bool stopping_ = false;           // guarded by mu_
  bool flushWanted_ = false;        // guarded by mu_
  bool reopenWanted_ = false;       // guarded by mu_
  std::string lastError_;           // guarded by mu_

  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> reopens_{0};
  std::atomic<uint64_t> reopenFailures_{0};
  std::thread writer_;
};

}  // namespace portcullis::log
