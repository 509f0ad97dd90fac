#include "cache/cache_admin.h"

#include <sys/stat.h>

#include "cache/index/sqlite_index.h"
#include "cache/policy/slice_plan.h"
#include "cache/store/body_store.h"
#include "daemon/http/uri.h"

namespace portcullis::cache {
namespace {

// Never create a cache where the operator mistyped a path.
Result<std::unique_ptr<SqliteIndex>> openExisting(const BodyStore& store) {
  struct stat st {};
  if (::stat(store.indexPath().c_str(), &st) != 0) {
    return makeError("no cache index at " + store.indexPath());
  }
  return SqliteIndex::open(store.indexPath());
}

Result<size_t> purgeKey(SqliteIndex& index, const BodyStore& store, const std::string& key) {
  auto rows = index.rowsForKey(key);
  if (!rows) return rows.error();
  IndexOp op{IndexOp::Kind::kDeleteKey, {}};
  op.row.key = key;
  if (auto r = index.apply({op}); !r) return r.error();
  // Files after the rows: a crash in between leaves orphans, which the next
  // start-up reconcile removes, never rows pointing at nothing.
  for (const auto& row : rows.value()) {
    if (row.file.rfind("objects/", 0) == 0 && row.file.find("..") == std::string::npos) {
      store.removeBody(row.file);
    }
  }
  return rows->size();
}

// The entry under `primaryKey` and, for a sliced object, its descriptor and
// every slice of it (any version, any slice size), as Cache::purge.
Result<size_t> purgeObject(SqliteIndex& index, const BodyStore& store,
                           const std::string& primaryKey) {
  std::vector<std::string> keys{primaryKey, policy::descriptorKey(primaryKey)};
  auto slices = index.keysStartingWith("slice ");
  if (!slices) return slices.error();
  for (auto& key : slices.value()) {
    if (policy::sliceOwner(key) == primaryKey) keys.push_back(std::move(key));
  }
  size_t n = 0;
  for (const auto& key : keys) {
    auto removed = purgeKey(index, store, key);
    if (!removed) return removed.error();
    n += *removed;
  }
  return n;
}

}  // namespace

Result<CacheStats> offlineStats(const std::string& dir) {
  BodyStore store(dir);
  auto index = openExisting(store);
  if (!index) return index.error();
  auto totals = index.value()->totals();
  if (!totals) return totals.error();
  CacheStats s;
  s.objects = totals->first;
  s.bytes = totals->second;
  return s;
}

Result<size_t> offlinePurge(const std::string& dir, std::string_view uri,
                            const policy::CacheRules* rules) {
  auto target = http::parseAbsoluteForm(uri);
  if (!target) return makeError("not an absolute http URI: " + std::string(uri));
  BodyStore store(dir);
  auto index = openExisting(store);
  if (!index) return index.error();
  const std::string plain = target->normalizedUri();
  auto n = purgeObject(*index.value(), store, plain);
  if (!n || rules == nullptr) return n;
  const std::string aliased = rules->primaryKey(*target);
  if (aliased == plain) return n;
  auto m = purgeObject(*index.value(), store, aliased);
  if (!m) return m.error();
  return *n + *m;
}

}  // namespace portcullis::cache
