#include "daemon/proxy/abuse_guard.h"

#include <algorithm>
#include <cstring>

namespace portcullis::proxy {

size_t IpHash::operator()(const acl::IpAddress& a) const noexcept {
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::memcpy(&hi, a.bytes().data(), 8);
  std::memcpy(&lo, a.bytes().data() + 8, 8);
  return std::hash<uint64_t>{}(lo ^ (hi * 0x9e3779b97f4a7c15ull));
}

bool AbuseGuard::noteRefusal(const acl::IpAddress& client, const Options& options,
                             SteadyTime now) {
  if (options.refusalsToBlock == 0) return false;
  std::lock_guard lock(mutex_);
  if (entries_.size() >= options.maxTracked && entries_.count(client) == 0) {
    forgetOldest(now, options);
  }
  Entry& e = entries_[client];
  if (e.isBlocked) return false;
  if (e.count == 0 || now - e.windowStart > options.window) {
    e.windowStart = now;
    e.count = 0;
  }
  if (++e.count < options.refusalsToBlock) return false;
  e.isBlocked = true;
  e.blockedUntil = now + options.blockFor;
  e.count = 0;
  return true;
}

bool AbuseGuard::blocked(const acl::IpAddress& client, SteadyTime now, bool& ended) {
  ended = false;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client);
  if (it == entries_.end() || !it->second.isBlocked) return false;
  if (now < it->second.blockedUntil) return true;
  entries_.erase(it);
  ended = true;
  return false;
}

std::vector<AbuseGuard::Block> AbuseGuard::blockedClients(SteadyTime now) {
  std::vector<Block> out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [client, e] : entries_) {
      if (!e.isBlocked || now >= e.blockedUntil) continue;
      out.push_back(Block{
          client, std::chrono::duration_cast<std::chrono::milliseconds>(e.blockedUntil - now)});
    }
  }
  std::sort(out.begin(), out.end(), [](const Block& a, const Block& b) { return a.left < b.left; });
  return out;
}

bool AbuseGuard::unblock(const acl::IpAddress& client, SteadyTime now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client);
  if (it == entries_.end()) return false;
  const bool wasBlocked = it->second.isBlocked && now < it->second.blockedUntil;
  entries_.erase(it);
  return wasBlocked;
}

void AbuseGuard::forgetOldest(SteadyTime now, const Options& options) {
  // Drop windows that have expired and blocks that are over; if that frees
  // nothing, drop everything not blocked (a flood of distinct addresses).
  std::erase_if(entries_, [&](const auto& kv) {
    const Entry& e = kv.second;
    return e.isBlocked ? now >= e.blockedUntil : now - e.windowStart > options.window;
  });
  if (entries_.size() >= options.maxTracked) {
    std::erase_if(entries_, [](const auto& kv) { return !kv.second.isBlocked; });
  }
}

bool RequestRateLimiter::take(const acl::IpAddress& client, double ratePerSecond, double burst,
                              SteadyTime now) {
  if (ratePerSecond <= 0) return true;
  std::lock_guard lock(mutex_);
  if (buckets_.size() > 65536) {
    // Buckets refilled to full carry no state: forget them.
    std::erase_if(buckets_, [&](const auto& kv) {
      double secs = std::chrono::duration<double>(now - kv.second.last).count();
      return kv.second.tokens + secs * ratePerSecond >= burst;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(client, Bucket{burst, now});
  Bucket& b = it->second;
  if (!inserted) {
    double secs = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst, b.tokens + secs * ratePerSecond);
    b.last = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

size_t RequestRateLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace portcullis::proxy
