#include "daemon/proxy/verify_mailbox.h"

namespace portcullis::proxy {

std::shared_ptr<VerifyMailbox> VerifyMailbox::create(event_base* base) {
  std::shared_ptr<VerifyMailbox> box(new VerifyMailbox());
  box->wake_.reset(event_new(base, -1, 0, &VerifyMailbox::onWake, box.get()));
  return box;
}

uint64_t VerifyMailbox::submit(auth::VerifierPool& pool, std::string hash, std::string password,
                               Done done) {
  auth::VerifierPool::Job job;
  job.hash = std::move(hash);
  job.password = std::move(password);
  return enqueue(pool, std::move(job), std::move(done));
}

uint64_t VerifyMailbox::submitCheck(auth::VerifierPool& pool,
                                    std::function<auth::VerifyResult(const std::string&)> check,
                                    std::string password, Done done) {
  auth::VerifierPool::Job job;
  job.check = std::move(check);
  job.password = std::move(password);
  return enqueue(pool, std::move(job), std::move(done));
}

uint64_t VerifyMailbox::enqueue(auth::VerifierPool& pool, auth::VerifierPool::Job job, Done done) {
  const uint64_t ticket = next_++;
  waiting_.emplace(ticket, std::move(done));
  std::weak_ptr<VerifyMailbox> self = weak_from_this();
  // Runs on a pool thread (or here, at once, when the pool is full: still
  // delivered through the event, never inside submit).
  job.done = [self, ticket](auth::VerifyResult r) {
    if (auto box = self.lock()) box->post(ticket, r);
  };
  pool.submit(std::move(job));
  return ticket;
}

void VerifyMailbox::post(uint64_t ticket, auth::VerifyResult result) {
  std::lock_guard lock(mutex_);
  if (!wake_) return;
  answers_.emplace_back(ticket, result);
  event_active(wake_.get(), 0, 0);
}

void VerifyMailbox::cancel(uint64_t ticket) {
  waiting_.erase(ticket);
}

void VerifyMailbox::close() {
  std::lock_guard lock(mutex_);
  wake_.reset();
  answers_.clear();
  waiting_.clear();
}

void VerifyMailbox::onWake(evutil_socket_t, short, void* arg) noexcept {
  auto* box = static_cast<VerifyMailbox*>(arg);
  std::vector<std::pair<uint64_t, auth::VerifyResult>> answers;
  {
    std::lock_guard lock(box->mutex_);
    answers.swap(box->answers_);
  }
  for (const auto& [ticket, result] : answers) {
    auto it = box->waiting_.find(ticket);
    if (it == box->waiting_.end()) continue;  // cancelled: the exchange is gone
    Done done = std::move(it->second);
    box->waiting_.erase(it);
    try {
      done(result);
    } catch (...) {
      // The exchange's own guard closes its connection; nothing escapes here.
    }
  }
}

}  // namespace portcullis::proxy
