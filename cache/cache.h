#pragma once
// The disk cache facade: one instance shared by every worker thread.
//
// Threads: every public method is thread-safe. lookup() touches only memory
// (no SQLite, no disk); openBody() does one open + fstat. SQLite writes,
// file unlinks, the start-up load and reconcile run on one background
// thread owned by the Cache.
//
// Typical use by the proxy (see docs in each declaration):
//   key   = rules.primaryKey(target)   // policy::CacheRules: URL, or alias identity
//   entry = cache.lookup(key, request.headers)        // nullptr: miss
//   ev    = policy::evaluate(request, entry->response, now, opts)
//   fd    = cache.openBody(*entry)                    // error: treat as miss
//   writer = cache.beginWrite({key, request.headers, response, t0, t1, contentLength})
//   writer->append(bytes)...; writer->commit()         // or abort()
//   cache.updateHeaders(*entry, request, response304, t0, t1)  // after a matching 304
//   for (k : policy::invalidationKeys(...)) cache.invalidate(k)

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cache/cache_options.h"
#include "cache/entry_writer.h"
#include "cache/policy/cache_rules.h"
#include "cache/store/memory_tier.h"
#include "cache/stored_entry.h"
#include "daemon/base/clock.h"
#include "daemon/base/result.h"
#include "daemon/http/message.h"

namespace portcullis::cache {

class CacheCore;

/// What beginWrite needs to know about a response about to be stored.
struct WriteRequest {
  std::string key;                 ///< primary key (policy::CacheRules::primaryKey)
  http::HeaderMap requestHeaders;  ///< the client request's fields (for Vary)
  http::ResponseHead response;     ///< as received; hop-by-hop fields are dropped here
  SystemTime requestTime;          ///< when the request was sent upstream
  SystemTime responseTime;         ///< when the response head arrived
  /// Content-Length when the framing gave one; commit() then insists on it.
  /// nullopt for chunked bodies (commit only after the last chunk).
  std::optional<uint64_t> expectedLength;
  std::string originAddress;  ///< the IP the response came from
};

class Cache {
 public:
  /// Opens (creating if needed) the cache in options.dir. Fast: the index is
  /// loaded into memory and reconciled with the files in the background;
  /// until then lookups of entries not yet loaded miss. Errors: directory
  /// not creatable, index unreadable or of another schema version.
  static Result<std::unique_ptr<Cache>> open(CacheOptions options);
  /// Stops the background thread after writing every queued index change.
  /// Writers still alive may commit later; their bodies are then not
  /// indexed and are removed by the next start-up reconcile.
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  /// The complete stored response for `key` whose Vary secondary key matches
  /// `requestHeaders`, or nullptr. Counts as an access for eviction. The
  /// caller decides usability with policy::evaluate.
  std::shared_ptr<const StoredEntry> lookup(std::string_view key,
                                            const http::HeaderMap& requestHeaders);
  /// Opens the entry's body (size-checked). On error the entry is dropped
  /// from the cache if it is still the indexed one; treat as a miss.
  Result<UniqueFd> openBody(const StoredEntry& entry);
  /// The whole body from RAM when it is small enough for the memory tier
  /// (read from disk into it on first use), else nullptr: then use
  /// openBody. nullptr also when the file is unusable (dropped as above).
  SharedBody memoryBody(const StoredEntry& entry);

  /// Starts storing a response. The caller has checked policy::isStorable.
  /// Errors (store nothing, relay uncached): expectedLength above
  /// max_object_size, not enough free disk (min_free_disk), Vary: *,
  /// temporary file not creatable.
  Result<std::unique_ptr<EntryWriter>> beginWrite(WriteRequest request);

  /// After a 304 to `request` that policy::notModifiedMatches(entry->response,
  /// head): publishes a copy of `entry` with headers merged per RFC 9111
  /// §4.3.4 (policy::mergeNotModified: never the 304's Set-Cookie) and the
  /// new clocks (same body file), and returns it. Returns nullptr when the
  /// entry has meanwhile been replaced or evicted, or when the merged head
  /// fails policy::checkStorable for `request` (no-store, private, Vary: *,
  /// ...) or names other Vary fields than the entry was keyed by: the entry
  /// is then removed. A caller serving the entry to the client opens its
  /// body first.
  std::shared_ptr<const StoredEntry> updateHeaders(const StoredEntry& entry,
                                                   const http::RequestHead& request,
                                                   const http::ResponseHead& notModified,
                                                   SystemTime requestTime, SystemTime responseTime,
                                                   const policy::PolicyOptions& options = {});

  /// Removes every variant stored under this primary key (RFC 9111 §4.4).
  /// Returns how many in-memory entries went.
  size_t invalidate(std::string_view key);
  /// Normalises an absolute http URI (as a user types it) to the key and
  /// invalidates it; error when it is not an absolute http(s) URI. With
  /// `rules`, the key under the [[cache.alias]] identity of its host goes
  /// too: any real URL of an aliased object purges it (and a copy stored
  /// under the host's own key before the alias existed). A sliced object's
  /// descriptor and all its slices (any version, any slice size) go with
  /// each key; finding the slices scans the in-memory index once per key.
  Result<size_t> purge(std::string_view uri, const policy::CacheRules* rules = nullptr);

  CacheStats stats() const;

  /// Blocks until the start-up load and reconcile have finished (tests,
  /// admin tools; the proxy need not wait).
  void waitUntilReady();
  /// Blocks until every index change and unlink queued so far is done.
  void flush();

 private:
  explicit Cache(std::shared_ptr<CacheCore> core);
  std::shared_ptr<CacheCore> core_;
  std::thread background_;
};

}  // namespace portcullis::cache
