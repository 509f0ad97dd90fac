#pragma once
// Asynchronous DNS for one worker loop (evdns), with a small positive and
// negative cache that honours record TTLs (clamped by [dns] min/max_ttl).
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
#include "daemon/net/hosts_file.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::net {

enum class DnsFailure { kNotFound, kTimeout, kServerFailure };

struct DnsAnswer {
  std::vector<acl::IpAddress> addresses;  ///< empty on failure
  std::optional<DnsFailure> failure;
  std::string detail;  ///< libevent's error text on failure
};

class Resolver {
 public:
  using Callback = std::function<void(const DnsAnswer&)>;

  Resolver(event_base* base, const config::DnsConfig& config);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// Answers at once (IP literal, hosts file, cache hit) by returning the
  /// answer; otherwise starts queries, returns nullopt and later calls `cb`
  /// on the loop thread unless cancel(ticket) was called first.
  std::optional<DnsAnswer> resolve(const std::string& host, Callback cb, uint64_t& ticket);
  void cancel(uint64_t ticket);

  uint64_t failures() const { return failures_; }

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
  struct CacheEntry {
    DnsAnswer answer;
    std::chrono::steady_clock::time_point expires;
  };

  static void onDnsAnswer(int result, char type, int count, int ttl, void* addresses,
                          void* arg) noexcept;
  void finish(Pending* pending);

  event_base* base_;
  config::DnsConfig config_;
  EvdnsBasePtr dns_;
  HostsTable hosts_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::unordered_map<std::string, Pending*> pending_;
  uint64_t nextTicket_ = 1;
  uint64_t failures_ = 0;
};

}  // namespace portcullis::net
