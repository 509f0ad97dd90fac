#pragma once
// The in-memory index of complete entries: the hit path reads only this.
// Not thread-safe: the cache guards it with its mutex.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/stored_entry.h"
#include "daemon/http/header_map.h"

namespace portcullis::cache {

using EntryPtr = std::shared_ptr<const StoredEntry>;

class MemoryIndex {
 public:
  /// The variant of `key` whose Vary secondary key matches the request's
  /// header fields; nullptr when none does.
  EntryPtr find(std::string_view key, const http::HeaderMap& requestHeaders) const;
  /// The entry with this object key hash, or nullptr.
  EntryPtr byHash(uint64_t keyHash) const;
  /// Adds `entry`; an entry with the same (key, secondary key) is replaced
  /// and returned so that the caller can drop its body.
  EntryPtr insert(EntryPtr entry);
  /// Replaces the entry with the same hash and id by `entry` (304 refresh);
  /// false when that entry is gone.
  bool replaceSame(const EntryPtr& entry);
  /// Removes the entry with this hash; returns it (nullptr if absent).
  EntryPtr removeByHash(uint64_t keyHash);
  /// Removes every variant of `key`.
  std::vector<EntryPtr> removeKey(std::string_view key);
  /// Variants stored for `key`, oldest first.
  const std::vector<EntryPtr>* variants(std::string_view key) const;

  size_t objectCount() const { return byHash_.size(); }
  uint64_t bytes() const { return bytes_; }
  template <class Fn>
  void forEach(Fn&& fn) const {
    for (const auto& [hash, e] : byHash_) fn(e);
  }

 private:
  // Transparent hashing so that lookups by string_view do not allocate.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<EntryPtr>, Hash, std::equal_to<>> byKey_;
  std::unordered_map<uint64_t, EntryPtr> byHash_;
  uint64_t bytes_ = 0;
};

}  // namespace portcullis::cache
