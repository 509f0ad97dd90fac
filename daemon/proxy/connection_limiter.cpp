#include "daemon/proxy/connection_limiter.h"

namespace portcullis::proxy {

AdmitResult ConnectionLimiter::admit(const acl::IpAddress& client, uint32_t maxTotal,
                                     uint32_t maxPerClient) {
  std::lock_guard lock(mutex_);
  if (active_.load(std::memory_order_relaxed) >= maxTotal) return AdmitResult::kGlobalLimit;
  auto& count = perClient_[client];
  if (count >= maxPerClient) {
    if (count == 0) perClient_.erase(client);
    return AdmitResult::kClientLimit;
  }
  ++count;
  active_.fetch_add(1, std::memory_order_relaxed);
  return AdmitResult::kAdmitted;
}

void ConnectionLimiter::release(const acl::IpAddress& client) {
  std::lock_guard lock(mutex_);
  auto it = perClient_.find(client);
  if (it != perClient_.end() && --it->second == 0) perClient_.erase(it);
  active_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace portcullis::proxy
