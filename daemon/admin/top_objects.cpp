#include "daemon/admin/top_objects.h"

#include <algorithm>

namespace portcullis::admin {

void TopObjects::add(std::string_view key, uint64_t size, uint64_t bytes) {
  std::lock_guard lock(mu_);
  auto it = counters_.find(std::string(key));
  if (it == counters_.end()) {
    TopObject fresh;
    fresh.key = std::string(key);
    if (counters_.size() >= capacity_ && capacity_ > 0) {
      // Space-saving: the newcomer takes the smallest counter's place and
      // its count, so it can never be under-counted.
      auto least = std::min_element(
          counters_.begin(), counters_.end(),
          [](const auto& a, const auto& b) { return a.second.bytesSaved < b.second.bytesSaved; });
      fresh.bytesSaved = least->second.bytesSaved;
      fresh.error = least->second.bytesSaved;
      counters_.erase(least);
    } else if (capacity_ == 0) {
      return;
    }
    it = counters_.emplace(fresh.key, std::move(fresh)).first;
  }
  TopObject& o = it->second;
  o.size = size;
  o.hits += 1;
  o.bytesSaved += bytes;
}

std::vector<TopObject> TopObjects::top(size_t n) const {
  std::vector<TopObject> all;
  {
    std::lock_guard lock(mu_);
    all.reserve(counters_.size());
    for (const auto& [key, o] : counters_) all.push_back(o);
  }
  std::sort(all.begin(), all.end(), [](const TopObject& a, const TopObject& b) {
    return a.bytesSaved != b.bytesSaved ? a.bytesSaved > b.bytesSaved : a.key < b.key;
  });
  if (all.size() > n) all.resize(n);
  return all;
}

}  // namespace portcullis::admin
