#include "cache/store/s3fifo_policy.h"

#include <algorithm>

namespace portcullis::cache {
namespace {
constexpr uint8_t kMaxFreq = 3;
}  // namespace

S3FifoPolicy::S3FifoPolicy(uint64_t capacityBytes, double smallRatio)
    : smallTarget_(std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(capacityBytes) * smallRatio))) {}

void S3FifoPolicy::onInsert(uint64_t key, uint64_t size) {
  if (map_.count(key) != 0) onRemove(key);
  auto g = ghostMap_.find(key);
  if (g != ghostMap_.end()) {
    // Seen recently and evicted from S: it has proved it comes back.
    ghost_.erase(g->second);
    ghostMap_.erase(g);
    main_.push_front(key);
    map_.emplace(key, Node{Queue::kMain, main_.begin(), size, 0});
    mainBytes_ += size;
    return;
  }
  small_.push_front(key);
  map_.emplace(key, Node{Queue::kSmall, small_.begin(), size, 0});
  smallBytes_ += size;
}

void S3FifoPolicy::onAccess(uint64_t key) {
  auto it = map_.find(key);
  if (it != map_.end() && it->second.freq < kMaxFreq) ++it->second.freq;
}

void S3FifoPolicy::onReplace(uint64_t key, uint64_t newSize) {
  auto it = map_.find(key);
  if (it == map_.end()) {
    onInsert(key, newSize);
    return;
  }
  Node& n = it->second;
  uint64_t& queueBytes = n.queue == Queue::kSmall ? smallBytes_ : mainBytes_;
  queueBytes = queueBytes - n.size + newSize;
  n.size = newSize;
  if (n.freq < kMaxFreq) ++n.freq;
}

void S3FifoPolicy::onRemove(uint64_t key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  Node& n = it->second;
  if (n.queue == Queue::kSmall) {
    small_.erase(n.pos);
    smallBytes_ -= n.size;
  } else {
    main_.erase(n.pos);
    mainBytes_ -= n.size;
  }
  map_.erase(it);
}

void S3FifoPolicy::addGhost(uint64_t key) {
  if (ghostMap_.count(key) != 0) return;
  ghost_.push_front(key);
  ghostMap_.emplace(key, ghost_.begin());
  trimGhost();
}

void S3FifoPolicy::trimGhost() {
  // G remembers as many keys as M holds objects (the paper's sizing).
  const size_t limit = std::max<size_t>(main_.size(), 1);
  while (ghost_.size() > limit) {
    ghostMap_.erase(ghost_.back());
    ghost_.pop_back();
  }
}

std::optional<uint64_t> S3FifoPolicy::evict() {
  while (!small_.empty() || !main_.empty()) {
    if (!small_.empty() && (smallBytes_ >= smallTarget_ || main_.empty())) {
      const uint64_t key = small_.back();
      Node& n = map_.at(key);
      small_.pop_back();
      smallBytes_ -= n.size;
      if (n.freq >= 1) {
        // Hit while in S: promote to M with its counter cleared.
        main_.push_front(key);
        n.queue = Queue::kMain;
        n.pos = main_.begin();
        n.freq = 0;
        mainBytes_ += n.size;
        continue;
      }
      map_.erase(key);
      addGhost(key);
      return key;
    }
    const uint64_t key = main_.back();
    Node& n = map_.at(key);
    if (n.freq > 0) {
      // FIFO-reinsertion with a decaying counter (a 2-bit CLOCK).
      --n.freq;
      main_.splice(main_.begin(), main_, n.pos);
      continue;
    }
    main_.pop_back();
    mainBytes_ -= n.size;
    map_.erase(key);
    trimGhost();
    return key;
  }
  return std::nullopt;
}

}  // namespace portcullis::cache
