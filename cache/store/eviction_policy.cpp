#include "cache/store/eviction_policy.h"

#include "cache/store/lru_policy.h"
#include "cache/store/s3fifo_policy.h"

namespace portcullis::cache {

std::optional<EvictionKind> evictionKindFromName(std::string_view name) {
  if (name == "lru") return EvictionKind::kLru;
  if (name == "s3fifo") return EvictionKind::kS3Fifo;
  return std::nullopt;
}

std::string_view evictionKindName(EvictionKind kind) {
  return kind == EvictionKind::kLru ? "lru" : "s3fifo";
}

std::unique_ptr<EvictionPolicy> makeEvictionPolicy(EvictionKind kind, uint64_t capacityBytes) {
  if (kind == EvictionKind::kLru) return std::make_unique<LruPolicy>();
  return std::make_unique<S3FifoPolicy>(capacityBytes);
}

}  // namespace portcullis::cache
