#pragma once
// Asynchronous DNS for one worker loop (evdns), with a bounded positive and
// negative cache (DnsCache) that honours record TTLs (clamped by [dns]
// min/max_ttl).
// Not thread-safe: one Resolver per worker thread, used on that thread only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/base/result.h"
#include "daemon/config/config.h"
#include "daemon/net/dns_cache.h"
#include "daemon/net/host_resolver.h"
#include "daemon/net/hosts_file.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::net {

class Resolver final : public HostResolver {
 public:
  /// `maxCacheEntries`: names kept in the answer cache (DnsCache).
  Resolver(event_base* base, const config::DnsConfig& config,
           size_t maxCacheEntries = DnsCache::kDefaultMaxEntries);
  ~Resolver() override;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// Answers at once (IP literal, hosts file, cache hit) by returning the
  /// answer; otherwise starts queries, returns nullopt and later calls `cb`
  /// on the loop thread unless cancel(ticket) was called first.
  std::optional<DnsAnswer> resolve(const std::string& host, Callback cb, uint64_t& ticket) override;
  void cancel(uint64_t ticket) override;

  uint64_t failures() const { return failures_; }
  /// Frees expired cached answers (the worker calls it once a second).
  void sweepCache() { cache_.sweep(std::chrono::steady_clock::now()); }
  /// Names in the answer cache, positive and negative.
  size_t cacheSize() const { return cache_.size(); }

 private:
  struct Waiter {
    uint64_t ticket;
    Callback cb;
  };
  struct Pending {
    std::string host;
    int outstanding = 2;  // A and AAAA
    std::vector<acl::IpAddress> addresses;
    int minTtl = INT32_MAX;
    int lastError = 0;
    std::vector<Waiter> waiters;
    Resolver* owner = nullptr;
  };
  static void onDnsAnswer(int result, char type, int count, int ttl, void* addresses,
                          void* arg) noexcept;
  void finish(Pending* pending);

  event_base* base_;
  config::DnsConfig config_;
  EvdnsBasePtr dns_;
  HostsTable hosts_;
  DnsCache cache_;
  std::unordered_map<std::string, Pending*> pending_;
  uint64_t nextTicket_ = 1;
  uint64_t failures_ = 0;
};

}  // namespace portcullis::net
