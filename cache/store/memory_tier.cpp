#include "cache/store/memory_tier.h"

namespace portcullis::cache {

SharedBody MemoryTier::find(uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lruPos);
  return it->second.body;
}

void MemoryTier::insert(uint64_t id, SharedBody body) {
  if (!body || !accepts(body->size())) return;
  std::lock_guard lk(mu_);
  if (auto it = nodes_.find(id); it != nodes_.end()) eraseLocked(it);
  bytes_ += body->size();
  lru_.push_front(id);
  nodes_.emplace(id, Node{std::move(body), lru_.begin()});
  while (bytes_ > capacity_ && !lru_.empty()) eraseLocked(nodes_.find(lru_.back()));
}

void MemoryTier::erase(uint64_t id) {
  std::lock_guard lk(mu_);
  if (auto it = nodes_.find(id); it != nodes_.end()) eraseLocked(it);
}

void MemoryTier::eraseLocked(std::unordered_map<uint64_t, Node>::iterator it) {
  bytes_ -= it->second.body->size();
  lru_.erase(it->second.lruPos);
  nodes_.erase(it);
}

uint64_t MemoryTier::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

size_t MemoryTier::count() const {
  std::lock_guard lk(mu_);
  return nodes_.size();
}

}  // namespace portcullis::cache
