#pragma once
// Internal: the state shared by the Cache facade, its writers and its
// background thread. Not part of the public API (include cache/cache.h).

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/cache_options.h"
#include "cache/index/memory_index.h"
#include "cache/index/sqlite_index.h"
#include "cache/store/body_store.h"
#include "cache/store/eviction_policy.h"
#include "cache/store/memory_tier.h"
#include "daemon/http/message.h"

namespace portcullis::cache {

IndexRow rowFromEntry(const StoredEntry& entry);
/// nullptr when the row is unusable (corrupt text).
EntryPtr entryFromRow(const IndexRow& row, const BodyStore& store);

class CacheCore {
 public:
  CacheCore(CacheOptions options, uint64_t firstNewId);

  const CacheOptions& options() const { return options_; }
  const BodyStore& store() const { return store_; }
  uint64_t newId() { return nextId_.fetch_add(1, std::memory_order_relaxed); }
  MemoryTier& memory() { return memory_; }

  // --- any thread ---
  EntryPtr lookup(std::string_view key, const http::HeaderMap& requestHeaders);
  /// Drops `entry` if it is still the indexed one (its body is unusable).
  void dropIfCurrent(const StoredEntry& entry);
  /// See Cache::updateHeaders.
  EntryPtr refreshHead(const StoredEntry& entry, const http::RequestHead& request,
                       const http::ResponseHead& notModified, SystemTime requestTime,
                       SystemTime responseTime, const policy::PolicyOptions& options);
  size_t invalidate(std::string_view key);
  /// Invalidates every slice (any version, any slice size) of the sliced
  /// object under `primaryKey`; a scan of the index (purge is rare).
  size_t invalidateSlicesOf(std::string_view primaryKey);
  CacheStats stats() const;
  /// True when `extraBytes` more can be written without going below minFreeDisk.
  bool hasRoomFor(uint64_t extraBytes) const;

  // --- writers ---
  void writerStarted(const StoredEntry& pending);
  void writerFinished(const StoredEntry& pending);
  /// Announces that body `id` is about to be renamed into objects/, so that
  /// reconcile does not take it for an orphan.
  void beginPublish(uint64_t id);
  /// Indexes a renamed body; error (and the body is removed) on a key-hash
  /// collision with a different key.
  Result<EntryPtr> publish(EntryPtr entry);
  void cancelPublish(uint64_t id);

  // --- background thread ---
  /// Runs until stop(): load, reconcile, then batched index writes and
  /// unlinks.
  void runBackground(SqliteIndex& index);
  void stop();
  /// Blocks until every index change queued before the call is written.
  void flush();
  void waitUntilReady();

 private:
  void evictWhileOverLocked();
  void removeLocked(const EntryPtr& e);         // index row and body file go too
  void forgetBodyLocked(const StoredEntry& e);  // unlink later; drop the RAM copy now
  void queueLocked(IndexOp::Kind kind, IndexRow row);
  void writeQueued(SqliteIndex& index);
  void loadAll(SqliteIndex& index);
  void reconcile();
  void reconcileShard(const std::string& shard, const std::vector<std::string>& names,
                      std::unordered_set<uint64_t>& present);

  const CacheOptions options_;
  const BodyStore store_;
  std::atomic<uint64_t> nextId_;
  const uint64_t firstNewId_;  // ids below were created by earlier runs
  std::atomic<uint64_t> writers_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  MemoryIndex index_;
  std::unique_ptr<EvictionPolicy> eviction_;
  MemoryTier memory_;
  std::vector<IndexOp> ops_;
  std::vector<std::string> unlinks_;  // relative body paths
  std::unordered_set<uint64_t> publishing_;
  // Bodies being written, by key; an invalidation of the key dooms them:
  // a response fetched before a POST must not be stored after it (§4.4).
  std::unordered_multimap<std::string, uint64_t> writing_;
  std::unordered_set<uint64_t> doomed_;
  bool loading_ = true;
  std::unordered_set<std::string> touchedWhileLoading_;
  std::unordered_set<std::string> slicesPurgedWhileLoading_;  // by primary key
  bool ready_ = false;
  bool stopping_ = false;
  uint64_t flushRequested_ = 0;
  uint64_t flushDone_ = 0;
};

}  // namespace portcullis::cache
