#include "cache/cache_core.h"

#include <algorithm>
#include <chrono>

#include "cache/policy/freshness.h"
#include "cache/policy/slice_plan.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"

namespace portcullis::cache {
namespace {

constexpr size_t kLoadBatchRows = 2000;
// Failed index writes are retried; beyond this many pending ops the oldest
// are dropped (reconcile repairs the index at the next start).
constexpr size_t kMaxPendingOps = 100000;

int64_t toMs(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
SystemTime fromMs(int64_t ms) {
  return SystemTime(std::chrono::milliseconds(ms));
}

}  // namespace

IndexRow rowFromEntry(const StoredEntry& e) {
  IndexRow r;
  r.id = e.id;
  r.key = e.key;
  r.secondary = e.secondaryKey;
  r.varyNames = policy::joinVaryNames(e.varyNames);
  r.file = e.bodyFile;
  r.bodySize = e.bodySize;
  r.status = e.response.status;
  r.reason = e.response.reason;
  r.headers = encodeHeaders(e.response.headers);
  r.requestTimeMs = toMs(e.response.requestTime);
  r.responseTimeMs = toMs(e.response.responseTime);
  r.originAddress = e.originAddress;
  return r;
}

EntryPtr entryFromRow(const IndexRow& row, const BodyStore& store) {
  uint64_t hash = 0;
  uint64_t id = 0;
  const size_t slash = row.file.rfind('/');
  // The file name must be the one this row's key and id would produce: a
  // damaged row can then never point at another object's body.
  if (slash == std::string::npos ||
      !BodyStore::parseBodyName(row.file.substr(slash + 1), hash, id) || id != row.id ||
      hash != objectKeyHash(row.key, row.secondary) ||
      row.file != BodyStore::relativeBodyPath(hash, id) || row.status < 200 || row.status > 599) {
    return nullptr;
  }
  auto e = std::make_shared<StoredEntry>();
  e->id = row.id;
  e->keyHash = hash;
  e->key = row.key;
  e->secondaryKey = row.secondary;
  e->varyNames = policy::splitVaryNames(row.varyNames);
  e->response.status = row.status;
  e->response.reason = row.reason;
  e->response.headers = decodeHeaders(row.headers);
  e->response.requestTime = fromMs(row.requestTimeMs);
  e->response.responseTime = fromMs(row.responseTimeMs);
  e->originAddress = row.originAddress;
  e->bodySize = row.bodySize;
  e->bodyFile = row.file;
  e->bodyPath = store.absolute(row.file);
  return e;
}

CacheCore::CacheCore(CacheOptions options, uint64_t firstNewId)
    : options_(std::move(options)),
      store_(options_.dir),
      nextId_(firstNewId),
      firstNewId_(firstNewId),
      eviction_(makeEvictionPolicy(options_.eviction, options_.maxSize)),
      memory_(options_.memorySize, options_.memoryMaxObjectSize) {}

EntryPtr CacheCore::lookup(std::string_view key, const http::HeaderMap& requestHeaders) {
  std::lock_guard lk(mu_);
  EntryPtr e = index_.find(key, requestHeaders);
  if (e) eviction_->onAccess(e->keyHash);
  return e;
}

void CacheCore::queueLocked(IndexOp::Kind kind, IndexRow row) {
  ops_.push_back(IndexOp{kind, std::move(row)});
  if (ops_.size() >= options_.flushBatch) cv_.notify_all();
}

void CacheCore::removeLocked(const EntryPtr& e) {
  index_.removeByHash(e->keyHash);
  eviction_->onRemove(e->keyHash);
  IndexRow row;
  row.id = e->id;
  queueLocked(IndexOp::Kind::kDeleteId, std::move(row));
  forgetBodyLocked(*e);
}

void CacheCore::forgetBodyLocked(const StoredEntry& e) {
  unlinks_.push_back(e.bodyFile);
  memory_.erase(e.id);
}

void CacheCore::evictWhileOverLocked() {
  while (index_.bytes() > options_.maxSize) {
    auto victim = eviction_->evict();
    if (!victim) break;
    EntryPtr e = index_.byHash(*victim);
    if (!e) continue;
    index_.removeByHash(e->keyHash);
    IndexRow row;
    row.id = e->id;
    queueLocked(IndexOp::Kind::kDeleteId, std::move(row));
    forgetBodyLocked(*e);
  }
}

void CacheCore::dropIfCurrent(const StoredEntry& entry) {
  std::lock_guard lk(mu_);
  EntryPtr cur = index_.byHash(entry.keyHash);
  if (cur && cur->id == entry.id) removeLocked(cur);
}

EntryPtr CacheCore::refreshHead(const StoredEntry& entry, const http::RequestHead& request,
                                const http::ResponseHead& notModified, SystemTime requestTime,
                                SystemTime responseTime, const policy::PolicyOptions& options) {
  std::lock_guard lk(mu_);
  EntryPtr cur = index_.byHash(entry.keyHash);
  if (!cur || cur->id != entry.id) return nullptr;
  policy::StoredResponse merged =
      policy::mergeNotModified(cur->response, notModified, requestTime, responseTime);
  http::ResponseHead head;
  head.status = merged.status;
  head.reason = merged.reason;
  head.headers = merged.headers;
  // The entry answers GET; a HEAD for it revalidates it as well.
  http::RequestHead asGet = request;
  asGet.method = "GET";
  asGet.methodKind = http::Method::kGet;
  // RFC 9111 §3, §4.3.4: the refreshed head must be storable by the same
  // rules as a fresh response; a 304 saying no-store or private (or Vary: *)
  // ends the entry. So does a changed Vary list: the entry would stay keyed
  // by fields it no longer varies on.
  if (!policy::isStorable(asGet, head, options) ||
      policy::varyFieldNames(merged.headers) != cur->varyNames) {
    removeLocked(cur);
    return nullptr;
  }
  auto fresh = std::make_shared<StoredEntry>(*cur);
  fresh->response = std::move(merged);
  index_.replaceSame(fresh);
  queueLocked(IndexOp::Kind::kUpdateHead, rowFromEntry(*fresh));
  return fresh;
}

size_t CacheCore::invalidate(std::string_view key) {
  std::lock_guard lk(mu_);
  if (loading_) touchedWhileLoading_.emplace(key);
  auto [first, last] = writing_.equal_range(std::string(key));
  for (auto it = first; it != last; ++it) doomed_.insert(it->second);
  auto removed = index_.removeKey(key);
  for (const auto& e : removed) {
    eviction_->onRemove(e->keyHash);
    forgetBodyLocked(*e);
  }
  // By key, not by id: rows not loaded yet must go too.
  IndexRow row;
  row.key = std::string(key);
  queueLocked(IndexOp::Kind::kDeleteKey, std::move(row));
  return removed.size();
}

size_t CacheCore::invalidateSlicesOf(std::string_view primaryKey) {
  std::vector<std::string> keys;
  {
    std::lock_guard lk(mu_);
    // Rows not loaded yet are dropped as they load.
    if (loading_) slicesPurgedWhileLoading_.emplace(primaryKey);
    index_.forEach([&](const EntryPtr& e) {
      if (policy::sliceOwner(e->key) == primaryKey) keys.push_back(e->key);
    });
    // A slice being filled now (a background fill) is not stored after the purge.
    for (const auto& [key, id] : writing_) {
      if (policy::sliceOwner(key) == primaryKey) doomed_.insert(id);
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  size_t n = 0;
  for (const auto& key : keys) n += invalidate(key);
  return n;
}

CacheStats CacheCore::stats() const {
  std::lock_guard lk(mu_);
  CacheStats s;
  s.objects = index_.objectCount();
  s.bytes = index_.bytes();
  s.writesInProgress = writers_.load();
  s.ready = ready_;
  s.memoryObjects = memory_.count();
  s.memoryBytes = memory_.bytes();
  return s;
}

bool CacheCore::hasRoomFor(uint64_t extraBytes) const {
  std::optional<uint64_t> free;
  if (options_.freeSpaceProbe) {
    free = options_.freeSpaceProbe();
  } else if (auto r = store_.freeBytes(); r.ok()) {
    free = r.value();
  }
  if (!free) return false;
  return *free >= options_.minFreeDisk && *free - options_.minFreeDisk >= extraBytes;
}

void CacheCore::writerStarted(const StoredEntry& pending) {
  writers_.fetch_add(1);
  std::lock_guard lk(mu_);
  writing_.emplace(pending.key, pending.id);
}

void CacheCore::writerFinished(const StoredEntry& pending) {
  writers_.fetch_sub(1);
  std::lock_guard lk(mu_);
  auto [first, last] = writing_.equal_range(pending.key);
  for (auto it = first; it != last; ++it) {
    if (it->second == pending.id) {
      writing_.erase(it);
      break;
    }
  }
  doomed_.erase(pending.id);
}

void CacheCore::beginPublish(uint64_t id) {
  std::lock_guard lk(mu_);
  publishing_.insert(id);
}

void CacheCore::cancelPublish(uint64_t id) {
  std::lock_guard lk(mu_);
  publishing_.erase(id);
}

Result<EntryPtr> CacheCore::publish(EntryPtr entry) {
  std::lock_guard lk(mu_);
  publishing_.erase(entry->id);
  if (doomed_.erase(entry->id) > 0) {
    unlinks_.push_back(entry->bodyFile);
    return makeError("the URL was invalidated while this response was being stored");
  }
  EntryPtr same = index_.byHash(entry->keyHash);
  if (same && (same->key != entry->key || same->secondaryKey != entry->secondaryKey)) {
    // 64-bit hash collision between two keys: keep the stored one.
    unlinks_.push_back(entry->bodyFile);
    return makeError("cache key hash collision; not stored");
  }
  if (loading_) touchedWhileLoading_.insert(entry->key);
  if (EntryPtr replaced = index_.insert(entry)) {
    // A refetch of a known object keeps its eviction history.
    eviction_->onReplace(entry->keyHash, entry->bodySize);
    forgetBodyLocked(*replaced);  // its row is replaced by the upsert
  } else {
    eviction_->onInsert(entry->keyHash, entry->bodySize);
  }
  queueLocked(IndexOp::Kind::kUpsert, rowFromEntry(*entry));
  while (const auto* vs = index_.variants(entry->key)) {
    if (vs->size() <= std::max<size_t>(options_.maxVariantsPerKey, 1)) break;
    EntryPtr oldest = vs->front();
    removeLocked(oldest);
  }
  evictWhileOverLocked();
  return entry;
}

void CacheCore::stop() {
  std::lock_guard lk(mu_);
  stopping_ = true;
  cv_.notify_all();
}

void CacheCore::flush() {
  std::unique_lock lk(mu_);
  const uint64_t target = ++flushRequested_;
  cv_.notify_all();
  cv_.wait(lk, [&] { return flushDone_ >= target; });
}

void CacheCore::waitUntilReady() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return ready_; });
}

void CacheCore::writeQueued(SqliteIndex& index) {
  std::vector<IndexOp> ops;
  std::vector<std::string> unlinks;
  uint64_t requested = 0;
  {
    std::lock_guard lk(mu_);
    requested = flushRequested_;
    ops.swap(ops_);
    unlinks.swap(unlinks_);
  }
  if (!ops.empty() && !index.apply(ops).ok()) {
    // Keep the changes for the next round (disk full, busy database).
    std::lock_guard lk(mu_);
    if (ops.size() + ops_.size() <= kMaxPendingOps) {
      ops.insert(ops.end(), std::make_move_iterator(ops_.begin()),
                 std::make_move_iterator(ops_.end()));
      ops_.swap(ops);
    }
  }
  for (const auto& rel : unlinks) store_.removeBody(rel);
  std::lock_guard lk(mu_);
  flushDone_ = std::max(flushDone_, requested);
  cv_.notify_all();
}

void CacheCore::loadAll(SqliteIndex& index) {
  uint64_t last = 0;
  std::vector<IndexRow> rows;
  for (;;) {
    rows.clear();
    auto n = index.loadBatch(last, kLoadBatchRows, rows);
    if (!n.ok() || n.value() == 0) break;
    last = rows.back().id;
    // Build entries before taking the lock: the hit path must not wait on
    // header decoding.
    std::vector<EntryPtr> entries;
    entries.reserve(rows.size());
    for (const auto& row : rows) entries.push_back(entryFromRow(row, store_));
    {
      std::lock_guard lk(mu_);
      for (size_t i = 0; i < rows.size(); ++i) {
        const IndexRow& row = rows[i];
        const bool purged =
            touchedWhileLoading_.count(row.key) > 0 ||
            (!slicesPurgedWhileLoading_.empty() &&
             slicesPurgedWhileLoading_.count(std::string(policy::sliceOwner(row.key))) > 0);
        EntryPtr e = purged ? nullptr : entries[i];
        if (e && index_.byHash(e->keyHash)) e = nullptr;
        if (!e) {
          // Superseded during loading, damaged, or a duplicate: drop the
          // row unless it is the live entry written by this run.
          EntryPtr cur = index_.byHash(objectKeyHash(row.key, row.secondary));
          if (!cur || cur->id != row.id) {
            IndexRow del;
            del.id = row.id;
            queueLocked(IndexOp::Kind::kDeleteId, std::move(del));
          }
          continue;
        }
        index_.insert(e);
        eviction_->onInsert(e->keyHash, e->bodySize);
      }
      evictWhileOverLocked();
      if (stopping_) break;
    }
    writeQueued(index);
  }
  std::lock_guard lk(mu_);
  loading_ = false;
  touchedWhileLoading_.clear();
  slicesPurgedWhileLoading_.clear();
}

void CacheCore::reconcileShard(const std::string& shard, const std::vector<std::string>& names,
                               std::unordered_set<uint64_t>& present) {
  std::vector<std::string> orphans;
  {
    std::lock_guard lk(mu_);
    for (const auto& name : names) {
      uint64_t hash = 0;
      uint64_t id = 0;
      if (!BodyStore::parseBodyName(name, hash, id)) {
        orphans.push_back(shard + "/" + name);
        continue;
      }
      EntryPtr e = index_.byHash(hash);
      if (e && e->id == id) {
        present.insert(id);
      } else if (publishing_.count(id) == 0) {
        // No row: a previous run crashed between rename and index write,
        // or this run already dropped it.
        orphans.push_back(shard + "/" + name);
      }
    }
  }
  for (const auto& rel : orphans) store_.removeBody(rel);
}

void CacheCore::reconcile() {
  std::unordered_set<uint64_t> present;
  store_.scanShards([&](const std::string& shard, const std::vector<std::string>& names) {
    reconcileShard(shard, names, present);
  });
  {
    // Rows of earlier runs whose body file is gone.
    std::lock_guard lk(mu_);
    std::vector<EntryPtr> missing;
    index_.forEach([&](const EntryPtr& e) {
      if (e->id < firstNewId_ && present.count(e->id) == 0) missing.push_back(e);
    });
    for (const auto& e : missing) removeLocked(e);
  }
  store_.removeStaleTemp();
}

void CacheCore::runBackground(SqliteIndex& index) {
  loadAll(index);
  bool stopEarly = false;
  {
    std::lock_guard lk(mu_);
    stopEarly = stopping_;
  }
  if (!stopEarly) reconcile();
  {
    std::lock_guard lk(mu_);
    ready_ = true;
    cv_.notify_all();
  }
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, options_.flushInterval, [&] {
        return stopping_ || ops_.size() >= options_.flushBatch || flushRequested_ > flushDone_;
      });
      stop = stopping_;
    }
    writeQueued(index);
    if (stop) break;
  }
  std::lock_guard lk(mu_);
  // Nothing will write after this: release anyone waiting on a flush.
  flushDone_ = UINT64_MAX;
  cv_.notify_all();
}

}  // namespace portcullis::cache
