#pragma once
// Settings of the disk cache, filled by the daemon from config::CacheConfig
// (the cache does not depend on the config module).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cache/store/body_store.h"
#include "cache/store/eviction_policy.h"

namespace portcullis::cache {

struct CacheOptions {
  /// Cache directory; created (mode 0700) if missing.
  std::string dir;
  /// Bound on the sum of stored body sizes; eviction keeps the total at or
  /// below it after every commit. Bodies still being written are not counted.
  uint64_t maxSize = 1ULL << 30;
  /// Largest body stored; larger responses are refused at beginWrite (when
  /// the length is known) or when the writer passes this many bytes.
  uint64_t maxObjectSize = 64ULL << 20;
  /// Free space (statvfs f_bavail) to leave on the file system: no write
  /// starts, and running writes stop, when storing would go below it.
  uint64_t minFreeDisk = 0;
  EvictionKind eviction = EvictionKind::kS3Fifo;
  FsyncPolicy fsync = FsyncPolicy::kNone;
  /// RAM copies of small bodies (read-through, LRU): total bytes (0 = off)...
  uint64_t memorySize = 256ULL << 20;
  /// ...and the largest body kept there; bigger ones are sent with sendfile.
  uint64_t memoryMaxObjectSize = 1ULL << 20;
  /// Vary variants kept per URI; the oldest is dropped beyond this.
  size_t maxVariantsPerKey = 8;
  /// Index writes are batched: flushed at this interval or...
  std::chrono::milliseconds flushInterval{100};
  /// ...as soon as this many are queued.
  size_t flushBatch = 256;
  /// Test seam: returns the free bytes on the cache file system; nullopt
  /// means "could not tell" (writes are refused). Default: statvfs.
  std::function<std::optional<uint64_t>()> freeSpaceProbe;
};

/// Figures for `portcullis cache stats` and the admin socket.
struct CacheStats {
  uint64_t objects = 0;
  uint64_t bytes = 0;            ///< sum of body sizes
  uint64_t writesInProgress = 0;
  uint64_t memoryObjects = 0;    ///< bodies also held in RAM
  uint64_t memoryBytes = 0;
  bool ready = true;             ///< start-up load and reconcile finished
};

}  // namespace portcullis::cache
