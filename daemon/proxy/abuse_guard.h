#pragma once
// Per-client defences shared by every worker: the scanner block (a client
// refused again and again is cut at accept for a while) and the request-rate
// token buckets of [[limit]]. Pure apart from a mutex: time is a parameter.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "acl/ip_address.h"

namespace portcullis::proxy {

using SteadyTime = std::chrono::steady_clock::time_point;

struct IpHash {
  size_t operator()(const acl::IpAddress& a) const noexcept;
};

class AbuseGuard {
 public:
  struct Options {
    uint32_t refusalsToBlock = 20;  ///< 0 = never block
    std::chrono::milliseconds window{60000};
    std::chrono::milliseconds blockFor{600000};
    size_t maxTracked = 65536;  ///< bound on remembered clients (oldest forgotten)
  };

  /// Counts one refusal; true when this refusal starts a block.
  bool noteRefusal(const acl::IpAddress& client, const Options& options, SteadyTime now);
  /// True while the client is blocked. `ended` is set when a block has just
  /// expired (reported once, for the event log).
  bool blocked(const acl::IpAddress& client, SteadyTime now, bool& ended);

  struct Block {
    acl::IpAddress client;
    std::chrono::milliseconds left{0};
  };
  /// The clients blocked at `now`, soonest unblocked first.
  std::vector<Block> blockedClients(SteadyTime now);
  /// Ends the client's block at once and forgets its refusals (an admin's
  /// unblock). False when it was not blocked.
  bool unblock(const acl::IpAddress& client, SteadyTime now);

 private:
  struct Entry {
    SteadyTime windowStart;
    uint32_t count = 0;
    SteadyTime blockedUntil;
    bool isBlocked = false;
  };
  void forgetOldest(SteadyTime now, const Options& options);

  std::mutex mutex_;
  std::unordered_map<acl::IpAddress, Entry, IpHash> entries_;
};

/// Token buckets keyed by client address, one refill rate per call.
class RequestRateLimiter {
 public:
  /// Takes one token; false when the bucket is empty (answer 429).
  bool take(const acl::IpAddress& client, double ratePerSecond, double burst, SteadyTime now);
  size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    SteadyTime last;
  };
  mutable std::mutex mutex_;
  std::unordered_map<acl::IpAddress, Bucket, IpHash> buckets_;
};

}  // namespace portcullis::proxy
