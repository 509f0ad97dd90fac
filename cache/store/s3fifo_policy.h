#pragma once
// S3-FIFO replacement (Juncheng Yang et al., "FIFO queues are all you need
// for cache eviction", SOSP 2023), byte-sized.

#include <list>
#include <unordered_map>

#include "cache/store/eviction_policy.h"

namespace portcullis::cache {

/// Three FIFO queues:
///  - S (small, 10% of the bytes): new objects land here; most one-hit
///    wonders leave from here without disturbing M.
///  - M (main, the rest): objects hit while in S (or returning from G);
///    evicted FIFO with reinsertion while their 2-bit counter is non-zero.
///  - G (ghost): keys recently evicted from S, as many as M holds objects;
///    a key found in G is inserted straight into M.
/// A hit only bumps a counter capped at 3: no list surgery on the hit path.
class S3FifoPolicy final : public EvictionPolicy {
 public:
  explicit S3FifoPolicy(uint64_t capacityBytes, double smallRatio = 0.10);
  void onInsert(uint64_t key, uint64_t size) override;
  void onAccess(uint64_t key) override;
  void onReplace(uint64_t key, uint64_t newSize) override;
  void onRemove(uint64_t key) override;
  std::optional<uint64_t> evict() override;
  size_t objectCount() const override { return map_.size(); }
  uint64_t trackedBytes() const override { return smallBytes_ + mainBytes_; }

 private:
  enum class Queue { kSmall, kMain };
  struct Node {
    Queue queue;
    std::list<uint64_t>::iterator pos;
    uint64_t size;
    uint8_t freq;
  };
  void addGhost(uint64_t key);
  void trimGhost();

  uint64_t smallTarget_;
  std::list<uint64_t> small_;  // front = newest
  std::list<uint64_t> main_;
  std::list<uint64_t> ghost_;
  std::unordered_map<uint64_t, Node> map_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> ghostMap_;
  uint64_t smallBytes_ = 0;
  uint64_t mainBytes_ = 0;
};

}  // namespace portcullis::cache
