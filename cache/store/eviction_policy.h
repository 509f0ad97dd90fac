#pragma once
// Replacement policies for the disk cache, shared with the eviction
// simulator (tests/bench/eviction_sim.cpp) so that the figures it reports
// are those of the code that runs.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace portcullis::cache {

enum class EvictionKind {
  kLru,     ///< least recently used
  kS3Fifo,  ///< S3-FIFO (Yang et al., SOSP '23): small FIFO + main FIFO + ghost
};

/// "lru" / "s3fifo" (case-sensitive), as config spells them.
std::optional<EvictionKind> evictionKindFromName(std::string_view name);
std::string_view evictionKindName(EvictionKind kind);

/// Tracks objects by a 64-bit key that stays the same when the same content
/// key is stored again (the cache uses a hash of primary + secondary key),
/// so that S3-FIFO's ghost queue recognises returning objects. Sizes are in
/// bytes. Not thread-safe: the cache calls it under its index mutex.
class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  /// A new object entered the cache. The key must not be tracked already.
  virtual void onInsert(uint64_t key, uint64_t size) = 0;
  /// The object was served (a hit).
  virtual void onAccess(uint64_t key) = 0;
  /// The object was stored again (a new response for the same key replaced
  /// it): keeps its queue position and history, records the new size, and
  /// counts as an access. Unknown keys are inserted.
  virtual void onReplace(uint64_t key, uint64_t newSize) = 0;
  /// The object left the cache for another reason (invalidated, replaced,
  /// found corrupt). Unknown keys are ignored.
  virtual void onRemove(uint64_t key) = 0;
  /// Picks the next victim, stops tracking it and returns its key; nullopt
  /// when nothing is tracked. The caller removes the object.
  virtual std::optional<uint64_t> evict() = 0;
  /// Objects and bytes tracked.
  virtual size_t objectCount() const = 0;
  virtual uint64_t trackedBytes() const = 0;
};

/// `capacityBytes` is the cache's max_size (S3-FIFO sizes its small queue
/// at 10% of it).
std::unique_ptr<EvictionPolicy> makeEvictionPolicy(EvictionKind kind, uint64_t capacityBytes);

}  // namespace portcullis::cache
