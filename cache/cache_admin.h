#pragma once
// Admin operations on a cache directory while the daemon is stopped
// (`portcullis cache stats`, `portcullis cache purge URL`). They work on
// the durable index and files directly; a running daemon keeps its own
// in-memory index, so use its admin socket (Cache::purge) instead.

#include <cstdint>
#include <string>
#include <string_view>

#include "cache/cache_options.h"
#include "cache/policy/cache_rules.h"
#include "daemon/base/result.h"

namespace portcullis::cache {

/// Objects and body bytes recorded in the index of `dir` (rows whose files
/// are gone are still counted until the next daemon start reconciles).
Result<CacheStats> offlineStats(const std::string& dir);

/// Removes every stored variant of `uri` (absolute http URI, normalised as
/// the cache keys it) from the index and deletes their bodies. Returns how
/// many objects were removed (0 when the URI was not cached).
/// With `rules`, also the key under its host's [[cache.alias]] identity
/// (as Cache::purge).
Result<size_t> offlinePurge(const std::string& dir, std::string_view uri,
                            const policy::CacheRules* rules = nullptr);

}  // namespace portcullis::cache
