#pragma once
// The stored objects that saved the most bytes (the status page's "Top
// objects by bytes saved", issue #15 item 6). Bounded memory whatever the
// number of objects: a weighted space-saving sketch (Metwally, Agrawal, El
// Abbadi 2005) keeps `capacity` counters; an object that is not tracked
// when all are taken replaces the one with the fewest bytes and inherits
// its count as an over-estimate (`error`). Every object whose true bytes
// exceed total/capacity is tracked, so the top of the list is right for
// the heavy hitters that matter. In memory only: reset on restart.
// Thread-safe (one mutex; the replacement scans `capacity` counters).

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace portcullis::admin {

struct TopObject {
  std::string key;          ///< the cache key: the URL, or its [[cache.alias]] identity's
  uint64_t size = 0;        ///< the stored body's size when last served
  uint64_t hits = 0;        ///< responses served from the stored object
  uint64_t bytesSaved = 0;  ///< body bytes sent from the cache (upper bound)
  uint64_t error = 0;       ///< how much of bytesSaved may belong to objects it replaced
};

class TopObjects {
 public:
  explicit TopObjects(size_t capacity = 256) : capacity_(capacity) {}

  /// `bytes` of the object under `key` (body `size`) were sent from the cache.
  void add(std::string_view key, uint64_t size, uint64_t bytes);
  /// The `n` objects with the most bytes saved, most first.
  std::vector<TopObject> top(size_t n) const;

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, TopObject> counters_;  // guarded by mu_
};

}  // namespace portcullis::admin
