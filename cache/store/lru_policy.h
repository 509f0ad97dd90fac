#pragma once
// Least-recently-used replacement.

#include <list>
#include <unordered_map>

#include "cache/store/eviction_policy.h"

namespace portcullis::cache {

/// Doubly linked recency list; a hit moves the object to the front, the
/// victim is the back.
class LruPolicy final : public EvictionPolicy {
 public:
  void onInsert(uint64_t key, uint64_t size) override;
  void onAccess(uint64_t key) override;
  void onReplace(uint64_t key, uint64_t newSize) override;
  void onRemove(uint64_t key) override;
  std::optional<uint64_t> evict() override;
  size_t objectCount() const override { return map_.size(); }
  uint64_t trackedBytes() const override { return bytes_; }

 private:
  struct Node {
    std::list<uint64_t>::iterator pos;
    uint64_t size;
  };
  std::list<uint64_t> order_;  // front = most recent
  std::unordered_map<uint64_t, Node> map_;
  uint64_t bytes_ = 0;
};

}  // namespace portcullis::cache
