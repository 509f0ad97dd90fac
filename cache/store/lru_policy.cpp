#include "cache/store/lru_policy.h"

namespace portcullis::cache {

void LruPolicy::onInsert(uint64_t key, uint64_t size) {
  if (map_.count(key) != 0) onRemove(key);
  order_.push_front(key);
  map_.emplace(key, Node{order_.begin(), size});
  bytes_ += size;
}

void LruPolicy::onAccess(uint64_t key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  order_.splice(order_.begin(), order_, it->second.pos);
}

void LruPolicy::onReplace(uint64_t key, uint64_t newSize) {
  auto it = map_.find(key);
  if (it == map_.end()) {
    onInsert(key, newSize);
    return;
  }
  bytes_ = bytes_ - it->second.size + newSize;
  it->second.size = newSize;
  order_.splice(order_.begin(), order_, it->second.pos);
}

void LruPolicy::onRemove(uint64_t key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  bytes_ -= it->second.size;
  order_.erase(it->second.pos);
  map_.erase(it);
}

std::optional<uint64_t> LruPolicy::evict() {
  if (order_.empty()) return std::nullopt;
  const uint64_t key = order_.back();
  onRemove(key);
  return key;
}

}  // namespace portcullis::cache
