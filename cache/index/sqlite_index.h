#pragma once
// The durable index in SQLite (WAL mode, prepared statements). One
// connection, used by one thread at a time: the cache's background thread
// while the daemon runs, or an admin command while it is stopped.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include "cache/index/index_row.h"
#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"

namespace portcullis::cache {

/// A change queued by the cache and applied in batches.
struct IndexOp {
  enum class Kind {
    kUpsert,      ///< insert `row`, replacing any row with the same (key, secondary)
    kDeleteId,    ///< delete row `row.id`
    kDeleteKey,   ///< delete every row whose key is `row.key`
    kUpdateHead,  ///< set status, reason, headers and times of row `row.id`
  };
  Kind kind;
  IndexRow row;
};

class SqliteIndex {
 public:
  /// Opens (creating if needed) the index at `path`: WAL journal,
  /// synchronous=NORMAL, schema version checked.
  static Result<std::unique_ptr<SqliteIndex>> open(const std::string& path);
  ~SqliteIndex();
  SqliteIndex(const SqliteIndex&) = delete;
  SqliteIndex& operator=(const SqliteIndex&) = delete;

  /// Largest row id, 0 when empty.
  Result<uint64_t> maxId();
  /// Appends up to `limit` rows with id > afterId, in id order, to `out`.
  Result<size_t> loadBatch(uint64_t afterId, size_t limit, std::vector<IndexRow>& out);
  /// Applies `ops` in order in one transaction.
  Result<void> apply(const std::vector<IndexOp>& ops);
  /// Distinct keys starting with `prefix`, which must not end in 0xff (a
  /// range scan of the key index; admin purge of a sliced object).
  Result<std::vector<std::string>> keysStartingWith(std::string_view prefix);
  /// Every row of a primary key (admin purge).
  Result<std::vector<IndexRow>> rowsForKey(const std::string& key);
  /// Row count and sum of body sizes.
  Result<std::pair<uint64_t, uint64_t>> totals();

 private:
  using Db = UniqueHandle<sqlite3, sqlite3_close_v2>;
  using Stmt = UniqueHandle<sqlite3_stmt, sqlite3_finalize>;
  explicit SqliteIndex(Db db);
  Result<void> exec(const char* sql);
  Result<Stmt> prepare(const char* sql);
  Result<void> prepareAll();
  Result<void> step(sqlite3_stmt* stmt);
  Error dbError(const char* what) const;

  Db db_;
  Stmt upsert_, deleteId_, deleteKey_, updateHead_, loadBatch_, rowsForKey_;
};

}  // namespace portcullis::cache
