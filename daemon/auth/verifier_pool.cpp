#include "daemon/auth/verifier_pool.h"

#include <cstring>

#include "daemon/auth/password_hash.h"

namespace portcullis::auth {

VerifierPool::VerifierPool(unsigned threads, size_t maxQueued) : maxQueued_(maxQueued) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

VerifierPool::~VerifierPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Job& j : queue_) explicit_bzero(j.password.data(), j.password.size());
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void VerifierPool::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < maxQueued_) {
      queue_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  explicit_bzero(job.password.data(), job.password.size());
  job.done(VerifyResult::kBusy);
}

size_t VerifierPool::completed() const {
  std::lock_guard lock(mutex_);
  return completed_;
}

void VerifierPool::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    VerifyResult result = VerifyResult::kUnavailable;
    try {
      if (job.check) {
        result = job.check(job.password);
      } else {
        result =
            verifyPassword(job.password, job.hash) ? VerifyResult::kMatch : VerifyResult::kMismatch;
      }
    } catch (...) {
      // A check must not throw; if one does, the login is not granted.
    }
    explicit_bzero(job.password.data(), job.password.size());
    {
      std::lock_guard lock(mutex_);
      ++completed_;
    }
    try {
      job.done(result);
    } catch (...) {
      // A done callback must not throw; nothing to do on this thread if it does.
    }
  }
}

}  // namespace portcullis::auth
