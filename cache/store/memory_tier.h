#pragma once
// Small bodies kept in RAM so that a hit is one writev of head and body:
// no open/fstat/close and no second TCP segment for a sendfile. The disk
// copy stays the truth; this is a read-through copy keyed by the entry id,
// which is never reused, so a replaced or refreshed object can never be
// served from a stale copy here (a new body means a new id).
//
// Thread-safe (one mutex; the critical sections are a hash lookup and a
// list splice). Least recently used bodies go first when over budget.

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace portcullis::cache {

using SharedBody = std::shared_ptr<const std::string>;

class MemoryTier {
 public:
  /// capacityBytes == 0 disables the tier.
  MemoryTier(uint64_t capacityBytes, uint64_t maxObjectBytes)
      : capacity_(capacityBytes), maxObject_(maxObjectBytes) {}

  /// Whether a body of this size belongs here.
  bool accepts(uint64_t size) const { return capacity_ > 0 && size <= maxObject_ && size <= capacity_; }
  SharedBody find(uint64_t id);
  /// Keeps `body` for entry `id` (least recently used bodies make room).
  void insert(uint64_t id, SharedBody body);
  void erase(uint64_t id);

  uint64_t bytes() const;
  size_t count() const;

 private:
  struct Node {
    SharedBody body;
    std::list<uint64_t>::iterator lruPos;
  };
  void eraseLocked(std::unordered_map<uint64_t, Node>::iterator it);

  const uint64_t capacity_;
  const uint64_t maxObject_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Node> nodes_;
  std::list<uint64_t> lru_;  // front = most recently used
  uint64_t bytes_ = 0;
};

}  // namespace portcullis::cache
