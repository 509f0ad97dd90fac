#include "cache/index/sqlite_index.h"

namespace portcullis::cache {
namespace {

// 2: + origin (the address the body was fetched from).
constexpr int kSchemaVersion = 2;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS objects(
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  secondary TEXT NOT NULL,
  vary TEXT NOT NULL,
  file TEXT NOT NULL,
  body_size INTEGER NOT NULL,
  status INTEGER NOT NULL,
  reason TEXT NOT NULL,
  headers BLOB NOT NULL,
  request_time_ms INTEGER NOT NULL,
  response_time_ms INTEGER NOT NULL,
  origin TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX IF NOT EXISTS objects_key ON objects(key, secondary);
)sql";

constexpr const char* kColumns =
    "id, key, secondary, vary, file, body_size, status, reason, headers, request_time_ms, "
    "response_time_ms, origin";

std::string columnText(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s, col));
  const int n = sqlite3_column_bytes(s, col);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

IndexRow readRow(sqlite3_stmt* s) {
  IndexRow r;
  r.id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  r.key = columnText(s, 1);
  r.secondary = columnText(s, 2);
  r.varyNames = columnText(s, 3);
  r.file = columnText(s, 4);
  const int64_t size = sqlite3_column_int64(s, 5);
  r.bodySize = size < 0 ? 0 : static_cast<uint64_t>(size);
  r.status = sqlite3_column_int(s, 6);
  r.reason = columnText(s, 7);
  r.headers = columnText(s, 8);
  r.requestTimeMs = sqlite3_column_int64(s, 9);
  r.responseTimeMs = sqlite3_column_int64(s, 10);
  r.originAddress = columnText(s, 11);
  return r;
}

void bindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

}  // namespace

SqliteIndex::SqliteIndex(Db db) : db_(std::move(db)) {}
SqliteIndex::~SqliteIndex() = default;

Error SqliteIndex::dbError(const char* what) const {
  return makeError(std::string("cache index: ") + what + ": " + sqlite3_errmsg(db_.get()));
}

Result<void> SqliteIndex::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : "unknown error";
    sqlite3_free(msg);
    return makeError("cache index: " + text);
  }
  return {};
}

Result<SqliteIndex::Stmt> SqliteIndex::prepare(const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) !=
      SQLITE_OK) {
    return dbError("prepare");
  }
  return Stmt(raw);
}

Result<void> SqliteIndex::prepareAll() {
  const std::string cols = kColumns;
  struct Entry {
    Stmt* slot;
    std::string sql;
  };
  const Entry entries[] = {
      {&upsert_, "INSERT OR REPLACE INTO objects(" + cols + ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"},
      {&deleteId_, "DELETE FROM objects WHERE id = ?"},
      {&deleteKey_, "DELETE FROM objects WHERE key = ?"},
      {&updateHead_,
       "UPDATE objects SET status = ?, reason = ?, headers = ?, request_time_ms = ?, "
       "response_time_ms = ? WHERE id = ?"},
      {&loadBatch_, "SELECT " + cols + " FROM objects WHERE id > ? ORDER BY id LIMIT ?"},
      {&rowsForKey_, "SELECT " + cols + " FROM objects WHERE key = ?"},
  };
  for (const auto& e : entries) {
    auto s = prepare(e.sql.c_str());
    if (!s) return s.error();
    *e.slot = std::move(s).value();
  }
  return {};
}

Result<std::unique_ptr<SqliteIndex>> SqliteIndex::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return makeError("cache index: open " + path + ": " +
                     (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  std::unique_ptr<SqliteIndex> index(new SqliteIndex(std::move(db)));
  sqlite3_busy_timeout(index->db_.get(), 5000);
  // WAL: readers (admin stats) never block the writer; NORMAL is durable
  // against process crashes and loses at most the last transactions on
  // power loss, which reconcile tolerates.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}) {
    if (auto r = index->exec(pragma); !r) return r.error();
  }
  if (auto r = index->exec(kSchema); !r) return r.error();
  {
    auto v = index->prepare("PRAGMA user_version");
    if (!v) return v.error();
    int version = 0;
    if (sqlite3_step(v->get()) == SQLITE_ROW) version = sqlite3_column_int(v->get(), 0);
    if (version == 1) {  // rows from version 1 keep an empty origin
      if (auto r = index->exec("ALTER TABLE objects ADD COLUMN origin TEXT NOT NULL DEFAULT ''");
          !r) {
        return r.error();
      }
    }
    if (version == 0 || version == 1) {
      if (auto r = index->exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
          !r) {
        return r.error();
      }
    } else if (version != kSchemaVersion) {
      return makeError("cache index: " + path + " has schema version " + std::to_string(version) +
                       ", this build reads version " + std::to_string(kSchemaVersion) +
                       " (delete the cache directory to start afresh)");
    }
  }
  if (auto r = index->prepareAll(); !r) return r.error();
  return index;
}

Result<void> SqliteIndex::step(sqlite3_stmt* stmt) {
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return dbError("step");
  return {};
}

Result<uint64_t> SqliteIndex::maxId() {
  auto s = prepare("SELECT COALESCE(MAX(id), 0) FROM objects");
  if (!s) return s.error();
  if (sqlite3_step(s->get()) != SQLITE_ROW) return dbError("max id");
  return static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0));
}

Result<size_t> SqliteIndex::loadBatch(uint64_t afterId, size_t limit, std::vector<IndexRow>& out) {
  sqlite3_stmt* s = loadBatch_.get();
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(afterId));
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(limit));
  size_t n = 0;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    out.push_back(readRow(s));
    ++n;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return dbError("load");
  return n;
}

Result<void> SqliteIndex::apply(const std::vector<IndexOp>& ops) {
  if (ops.empty()) return {};
  if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
  for (const auto& op : ops) {
    const IndexRow& r = op.row;
    sqlite3_stmt* s = nullptr;
    switch (op.kind) {
      case IndexOp::Kind::kUpsert:
        s = upsert_.get();
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(r.id));
        bindText(s, 2, r.key);
        bindText(s, 3, r.secondary);
        bindText(s, 4, r.varyNames);
        bindText(s, 5, r.file);
        sqlite3_bind_int64(s, 6, static_cast<sqlite3_int64>(r.bodySize));
        sqlite3_bind_int(s, 7, r.status);
        bindText(s, 8, r.reason);
        sqlite3_bind_blob(s, 9, r.headers.data(), static_cast<int>(r.headers.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 10, r.requestTimeMs);
        sqlite3_bind_int64(s, 11, r.responseTimeMs);
        bindText(s, 12, r.originAddress);
        break;
      case IndexOp::Kind::kDeleteId:
        s = deleteId_.get();
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(r.id));
        break;
      case IndexOp::Kind::kDeleteKey:
        s = deleteKey_.get();
        bindText(s, 1, r.key);
        break;
      case IndexOp::Kind::kUpdateHead:
        s = updateHead_.get();
        sqlite3_bind_int(s, 1, r.status);
        bindText(s, 2, r.reason);
        sqlite3_bind_blob(s, 3, r.headers.data(), static_cast<int>(r.headers.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 4, r.requestTimeMs);
        sqlite3_bind_int64(s, 5, r.responseTimeMs);
        sqlite3_bind_int64(s, 6, static_cast<sqlite3_int64>(r.id));
        break;
    }
    if (auto res = step(s); !res) {
      (void)exec("ROLLBACK");
      return res;
    }
  }
  return exec("COMMIT");
}

Result<std::vector<IndexRow>> SqliteIndex::rowsForKey(const std::string& key) {
  sqlite3_stmt* s = rowsForKey_.get();
  bindText(s, 1, key);
  std::vector<IndexRow> rows;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) rows.push_back(readRow(s));
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_DONE) return dbError("rows for key");
  return rows;
}

Result<std::vector<std::string>> SqliteIndex::keysStartingWith(std::string_view prefix) {
  // [prefix, prefix with its last byte + 1): the objects_key index serves it.
  std::string upper(prefix);
  if (!upper.empty()) upper.back() = static_cast<char>(upper.back() + 1);
  auto s = prepare("SELECT DISTINCT key FROM objects WHERE key >= ?1 AND key < ?2");
  if (!s) return s.error();
  bindText(s->get(), 1, std::string(prefix));
  bindText(s->get(), 2, upper);
  std::vector<std::string> keys;
  int rc;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) keys.push_back(columnText(s->get(), 0));
  if (rc != SQLITE_DONE) return dbError("keys by prefix");
  return keys;
}

Result<std::pair<uint64_t, uint64_t>> SqliteIndex::totals() {
  auto s = prepare("SELECT COUNT(*), COALESCE(SUM(body_size), 0) FROM objects");
  if (!s) return s.error();
  if (sqlite3_step(s->get()) != SQLITE_ROW) return dbError("totals");
  return std::make_pair(static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0)),
                        static_cast<uint64_t>(sqlite3_column_int64(s->get(), 1)));
}

}  // namespace portcullis::cache
