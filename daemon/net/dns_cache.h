#pragma once
// The resolver's answer cache: positive and negative answers until their
// TTL runs out, bounded in size. Pure (time is a parameter) and not
// thread-safe: each Resolver (one per worker thread) owns one.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "acl/ip_address.h"

namespace portcullis::net {

enum class DnsFailure { kNotFound, kTimeout, kServerFailure };

struct DnsAnswer {
  std::vector<acl::IpAddress> addresses;  ///< empty on failure
  std::optional<DnsFailure> failure;
  std::string detail;  ///< libevent's error text on failure
};

class DnsCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  /// Names kept per worker. An attack run asked for 220,000 unique
  /// NXDOMAIN names and the unbounded map grew RSS by 81.5 MB. 10,000 names
  /// cost 3.3 MB of RSS per worker (measured, see README "DNS answers") and
  /// exceed the distinct host names a site's clients use within max_ttl
  /// (5 min) by a wide margin.
  static constexpr size_t kDefaultMaxEntries = 10000;

  explicit DnsCache(size_t maxEntries = kDefaultMaxEntries);

  /// The answer for `host` if it has not expired at `now` (an expired one
  /// is freed). The pointer is valid until the next non-const call.
  const DnsAnswer* find(const std::string& host, TimePoint now);
  /// Stores (or replaces) the answer for `host` until `expires`. Expired
  /// entries are freed first; at the cap, the entry closest to expiry goes
  /// (it would have been asked again soonest anyway).
  void insert(const std::string& host, DnsAnswer answer, TimePoint expires, TimePoint now);
  /// Frees every entry expired at `now`; returns how many went. The worker
  /// calls it once a second, so memory is returned without new lookups.
  size_t sweep(TimePoint now);

  size_t size() const { return entries_.size(); }
  size_t maxEntries() const { return maxEntries_; }

 private:
  using ExpiryIndex = std::multimap<TimePoint, const std::string*>;
  struct Entry {
    DnsAnswer answer;
    ExpiryIndex::iterator expiry;  // its node in byExpiry_
  };

  void erase(std::unordered_map<std::string, Entry>::iterator it);

  size_t maxEntries_;
  std::unordered_map<std::string, Entry> entries_;
  // Soonest expiry first; points at the keys of entries_ (node-stable).
  ExpiryIndex byExpiry_;
};

}  // namespace portcullis::net
