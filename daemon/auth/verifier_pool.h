#pragma once
// A small pool of threads that check passwords (crypt_r is slow by design:
// tens of milliseconds per check), so that no event-loop thread ever runs
// one. Jobs go in from any thread; each job's `done` runs on a pool thread
// and must only hand the result back to its loop (the proxy posts it to the
// worker's mailbox and wakes the loop with event_active).
//
// A job checks either a users-file hash (crypt_r) or, through its `check`
// function, another backend such as LDAP (a blocking bind with timeouts).
//
// The queue is bounded: a flood of logins is refused at once (done(kBusy))
// rather than queued for minutes.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::auth {

/// kUnavailable: the backend could not answer (an LDAP server down); not the
/// user's fault, so not a failed login.
enum class VerifyResult { kMatch, kMismatch, kBusy, kUnavailable };

class VerifierPool {
 public:
  struct Job {
    std::string hash;
    std::string password;  ///< wiped after the check
    /// Called once on a pool thread (or at once with kBusy, on the caller's
    /// thread, when the queue is full). Must not throw.
    std::function<void(VerifyResult)> done;
    /// When set, runs instead of the hash check (`hash` unused). Must return
    /// within bounded time (timeouts of its own); a throw counts as
    /// kUnavailable.
    std::function<VerifyResult(const std::string& password)> check;
  };

  /// Starts `threads` threads (at least 1); `maxQueued` jobs may wait.
  explicit VerifierPool(unsigned threads, size_t maxQueued = 4096);
  /// Finishes nothing that is queued: pending jobs are dropped (their
  /// `done` never runs), running ones complete; then joins.
  ~VerifierPool();
  VerifierPool(const VerifierPool&) = delete;
  VerifierPool& operator=(const VerifierPool&) = delete;

  /// Any thread.
  void submit(Job job);
  /// Checks run so far (tests, /status).
  size_t completed() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  size_t maxQueued_;
  size_t completed_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace portcullis::auth
