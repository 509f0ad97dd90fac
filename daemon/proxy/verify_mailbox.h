#pragma once
// Brings password-check answers from auth::VerifierPool's threads back to
// one worker's event loop, like the resolver's callbacks: a pool thread
// posts (ticket, result) under a mutex and wakes the loop with
// event_active; the loop then calls the waiting exchange's callback, unless
// the exchange cancelled (its connection closed meanwhile). The pool keeps
// the mailbox alive through a shared_ptr, so a late answer after the worker
// is gone finds it closed and is dropped.

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/auth/verifier_pool.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::proxy {

class VerifyMailbox : public std::enable_shared_from_this<VerifyMailbox> {
 public:
  using Done = std::function<void(auth::VerifyResult)>;

  /// `base` is the worker's loop; the mailbox's event lives on it.
  static std::shared_ptr<VerifyMailbox> create(event_base* base);

  /// Loop thread. Queues the check on `pool`; `done` runs later on this
  /// loop (never inside submit). Returns a ticket for cancel().
  uint64_t submit(auth::VerifierPool& pool, std::string hash, std::string password, Done done);
  /// The same for a backend's own check (LDAP): `check` runs on a pool thread.
  uint64_t submitCheck(auth::VerifierPool& pool,
                       std::function<auth::VerifyResult(const std::string&)> check,
                       std::string password, Done done);
  /// Loop thread: the answer for `ticket` will not be delivered.
  void cancel(uint64_t ticket);
  /// Loop thread, before the loop goes away: nothing more is delivered.
  void close();
  size_t waiting() const { return waiting_.size(); }

 private:
  VerifyMailbox() = default;
  static void onWake(evutil_socket_t, short, void* arg) noexcept;
  void post(uint64_t ticket, auth::VerifyResult result);  // any thread
  uint64_t enqueue(auth::VerifierPool& pool, auth::VerifierPool::Job job, Done done);

  std::mutex mutex_;
  std::vector<std::pair<uint64_t, auth::VerifyResult>> answers_;  // guarded by mutex_
  net::EventPtr wake_;                                            // guarded by mutex_
  std::unordered_map<uint64_t, Done> waiting_;                    // loop thread only
  uint64_t next_ = 1;
};

}  // namespace portcullis::proxy
