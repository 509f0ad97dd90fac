#include "cache/cache.h"

#include <unistd.h>

#include <cerrno>

#include "cache/cache_core.h"
#include "cache/index/sqlite_index.h"
#include "cache/policy/slice_plan.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"
#include "daemon/http/uri.h"

namespace portcullis::cache {

Cache::Cache(std::shared_ptr<CacheCore> core) : core_(std::move(core)) {}

Result<std::unique_ptr<Cache>> Cache::open(CacheOptions options) {
  if (options.dir.empty()) return makeError("cache: no directory configured");
  BodyStore store(options.dir);
  if (auto r = store.prepare(); !r) return r.error();
  auto index = SqliteIndex::open(store.indexPath());
  if (!index) return index.error();
  auto maxId = index.value()->maxId();
  if (!maxId) return maxId.error();
  auto core = std::make_shared<CacheCore>(std::move(options), maxId.value() + 1);
  std::unique_ptr<Cache> cache(new Cache(core));
  // The background thread owns the SQLite connection from here on.
  cache->background_ =
      std::thread([core, idx = std::shared_ptr<SqliteIndex>(std::move(index).value())]() mutable {
        core->runBackground(*idx);
      });
  return cache;
}

Cache::~Cache() {
  core_->stop();
  if (background_.joinable()) background_.join();
}

std::shared_ptr<const StoredEntry> Cache::lookup(std::string_view key,
                                                 const http::HeaderMap& requestHeaders) {
  return core_->lookup(key, requestHeaders);
}

Result<UniqueFd> Cache::openBody(const StoredEntry& entry) {
  auto fd = entry.openBody();
  if (!fd) core_->dropIfCurrent(entry);
  return fd;
}

SharedBody Cache::memoryBody(const StoredEntry& entry) {
  MemoryTier& tier = core_->memory();
  if (!tier.accepts(entry.bodySize)) return nullptr;
  if (SharedBody body = tier.find(entry.id)) return body;
  auto fd = openBody(entry);
  if (!fd) return nullptr;
  auto bytes = std::make_shared<std::string>(entry.bodySize, '\0');
  uint64_t got = 0;
  while (got < entry.bodySize) {
    ssize_t n =
        ::pread(fd->get(), bytes->data() + got, entry.bodySize - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // shrank under us, or an I/O error: not servable
      core_->dropIfCurrent(entry);
      return nullptr;
    }
    got += static_cast<uint64_t>(n);
  }
  SharedBody body = std::move(bytes);
  tier.insert(entry.id, body);
  return body;
}

Result<std::unique_ptr<EntryWriter>> Cache::beginWrite(WriteRequest request) {
  const CacheOptions& o = core_->options();
  if (request.expectedLength && *request.expectedLength > o.maxObjectSize) {
    return makeError("object larger than max_object_size");
  }
  if (!core_->hasRoomFor(request.expectedLength.value_or(0))) {
    return makeStorageError("cache file system below min_free_disk");
  }
  auto varyNames = policy::varyFieldNames(request.response.headers);
  for (const auto& n : varyNames) {
    if (n == "*") return makeError("Vary: * is never stored");
  }
  auto entry = std::make_shared<StoredEntry>();
  entry->id = core_->newId();
  entry->key = std::move(request.key);
  entry->secondaryKey = policy::secondaryKey(varyNames, request.requestHeaders);
  entry->varyNames = std::move(varyNames);
  entry->keyHash = objectKeyHash(entry->key, entry->secondaryKey);
  entry->response.status = request.response.status;
  entry->response.reason = std::move(request.response.reason);
  entry->response.headers = policy::headersForStorage(request.response.headers);
  entry->response.requestTime = request.requestTime;
  entry->response.responseTime = request.responseTime;
  entry->bodyFile = BodyStore::relativeBodyPath(entry->keyHash, entry->id);
  entry->bodyPath = core_->store().absolute(entry->bodyFile);
  entry->originAddress = std::move(request.originAddress);
  std::string temp = core_->store().tempPath(entry->id);
  auto fd = core_->store().createTemp(temp);
  if (!fd) return fd.error();
  return std::unique_ptr<EntryWriter>(new EntryWriter(
      core_, std::move(entry), std::move(fd).value(), std::move(temp), request.expectedLength));
}

std::shared_ptr<const StoredEntry> Cache::updateHeaders(const StoredEntry& entry,
                                                        const http::RequestHead& request,
                                                        const http::ResponseHead& notModified,
                                                        SystemTime requestTime,
                                                        SystemTime responseTime,
                                                        const policy::PolicyOptions& options) {
  return core_->refreshHead(entry, request, notModified, requestTime, responseTime, options);
}

size_t Cache::invalidate(std::string_view key) {
  return core_->invalidate(key);
}

Result<size_t> Cache::purge(std::string_view uri, const policy::CacheRules* rules) {
  auto target = http::parseAbsoluteForm(uri);
  if (!target) return makeError("not an absolute http URI: " + std::string(uri));
  const std::string plain = target->normalizedUri();
  // An object stored as slices: its descriptor and every slice go too.
  auto purgeKey = [this](const std::string& key) {
    return core_->invalidate(key) + core_->invalidate(policy::descriptorKey(key)) +
           core_->invalidateSlicesOf(key);
  };
  size_t n = purgeKey(plain);
  if (rules != nullptr) {
    const std::string aliased = rules->primaryKey(*target);
    if (aliased != plain) n += purgeKey(aliased);
  }
  return n;
}

CacheStats Cache::stats() const {
  return core_->stats();
}
void Cache::waitUntilReady() {
  core_->waitUntilReady();
}
void Cache::flush() {
  core_->flush();
}

}  // namespace portcullis::cache
