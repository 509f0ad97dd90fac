#include "daemon/net/dns_cache.h"

#include <algorithm>

namespace portcullis::net {

DnsCache::DnsCache(size_t maxEntries) : maxEntries_(std::max<size_t>(1, maxEntries)) {}

void DnsCache::erase(std::unordered_map<std::string, Entry>::iterator it) {
  byExpiry_.erase(it->second.expiry);
  entries_.erase(it);
}

const DnsAnswer* DnsCache::find(const std::string& host, TimePoint now) {
  auto it = entries_.find(host);
  if (it == entries_.end()) return nullptr;
  if (it->second.expiry->first > now) return &it->second.answer;
  erase(it);
  return nullptr;
}

void DnsCache::insert(const std::string& host, DnsAnswer answer, TimePoint expires, TimePoint now) {
  if (auto it = entries_.find(host); it != entries_.end()) erase(it);
  sweep(now);
  while (entries_.size() >= maxEntries_ && !byExpiry_.empty()) {
    erase(entries_.find(*byExpiry_.begin()->second));
  }
  auto it = entries_.emplace(host, Entry{std::move(answer), {}}).first;
  it->second.expiry = byExpiry_.emplace(expires, &it->first);
}

size_t DnsCache::sweep(TimePoint now) {
  size_t freed = 0;
  while (!byExpiry_.empty() && byExpiry_.begin()->first <= now) {
    erase(entries_.find(*byExpiry_.begin()->second));
    ++freed;
  }
  return freed;
}

}  // namespace portcullis::net
