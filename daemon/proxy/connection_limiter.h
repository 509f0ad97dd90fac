#pragma once
// Global and per-client-address connection caps, shared by all workers.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "acl/ip_address.h"
#include "daemon/proxy/abuse_guard.h"

namespace portcullis::proxy {

enum class AdmitResult { kAdmitted, kGlobalLimit, kClientLimit };

class ConnectionLimiter {
 public:
  /// Counts the connection in when under both caps. Thread-safe.
  AdmitResult admit(const acl::IpAddress& client, uint32_t maxTotal, uint32_t maxPerClient);
  /// Must pair with every kAdmitted.
  void release(const acl::IpAddress& client);
  uint64_t active() const { return active_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> active_{0};
  std::mutex mutex_;
  std::unordered_map<acl::IpAddress, uint32_t, IpHash> perClient_;
};

}  // namespace portcullis::proxy
