#include "cache/index/memory_index.h"

#include <algorithm>

#include "cache/policy/vary.h"

namespace portcullis::cache {

EntryPtr MemoryIndex::find(std::string_view key, const http::HeaderMap& requestHeaders) const {
  auto it = byKey_.find(key);
  if (it == byKey_.end()) return nullptr;
  // Newest first: after a Vary change the fresher variant wins.
  for (auto v = it->second.rbegin(); v != it->second.rend(); ++v) {
    const auto& e = *v;
    if (e->varyNames.empty() || policy::secondaryKey(e->varyNames, requestHeaders) == e->secondaryKey) {
      return e;
    }
  }
  return nullptr;
}

EntryPtr MemoryIndex::byHash(uint64_t keyHash) const {
  auto it = byHash_.find(keyHash);
  return it == byHash_.end() ? nullptr : it->second;
}

EntryPtr MemoryIndex::insert(EntryPtr entry) {
  EntryPtr replaced;
  auto& list = byKey_[entry->key];
  for (auto it = list.begin(); it != list.end(); ++it) {
    if ((*it)->secondaryKey == entry->secondaryKey) {
      replaced = *it;
      list.erase(it);
      byHash_.erase(replaced->keyHash);
      bytes_ -= replaced->bodySize;
      break;
    }
  }
  list.push_back(entry);
  bytes_ += entry->bodySize;
  byHash_[entry->keyHash] = std::move(entry);
  return replaced;
}

bool MemoryIndex::replaceSame(const EntryPtr& entry) {
  auto h = byHash_.find(entry->keyHash);
  if (h == byHash_.end() || h->second->id != entry->id) return false;
  auto& list = byKey_[entry->key];
  for (auto& e : list) {
    if (e->id == entry->id) e = entry;
  }
  h->second = entry;
  return true;
}

EntryPtr MemoryIndex::removeByHash(uint64_t keyHash) {
  auto h = byHash_.find(keyHash);
  if (h == byHash_.end()) return nullptr;
  EntryPtr e = std::move(h->second);
  byHash_.erase(h);
  bytes_ -= e->bodySize;
  auto k = byKey_.find(e->key);
  if (k != byKey_.end()) {
    auto& list = k->second;
    list.erase(std::remove(list.begin(), list.end(), e), list.end());
    if (list.empty()) byKey_.erase(k);
  }
  return e;
}

std::vector<EntryPtr> MemoryIndex::removeKey(std::string_view key) {
  auto k = byKey_.find(key);
  if (k == byKey_.end()) return {};
  std::vector<EntryPtr> removed = std::move(k->second);
  byKey_.erase(k);
  for (const auto& e : removed) {
    byHash_.erase(e->keyHash);
    bytes_ -= e->bodySize;
  }
  return removed;
}

const std::vector<EntryPtr>* MemoryIndex::variants(std::string_view key) const {
  auto it = byKey_.find(key);
  return it == byKey_.end() ? nullptr : &it->second;
}

}  // namespace portcullis::cache
