#pragma once
// A set of CIDR blocks matched by binary search over sorted, merged ranges:
// O(log n) per lookup whatever the number of blocks (100,000 blocks is ~17
// comparisons). Built once, then read-only and safe to share between threads.

#include <cstddef>
#include <vector>

#include "acl/cidr.h"

namespace portcullis::acl {

class CidrSet {
 public:
  /// Adds a block; call finalize() before any lookup.
  void add(const Cidr& cidr);
  /// Sorts and merges overlapping or adjacent blocks.
  void finalize();

  bool contains(const IpAddress& a) const;
  /// True when every address of `other` is in this set (both finalized).
  bool coversAll(const CidrSet& other) const;
  /// True when some address is in both sets (both finalized).
  bool intersects(const CidrSet& other) const;
  bool empty() const { return ranges_.empty(); }
  /// Number of merged ranges (not of blocks added).
  size_t rangeCount() const { return ranges_.size(); }
  /// Calls `visit(first, last)` for every merged range in address order
  /// (finalized sets only). For generated files (PAC).
  template <typename Visit>
  void forEachRange(Visit&& visit) const {
    for (const Range& r : ranges_) visit(r.first, r.last);
  }

 private:
  struct Range {
    U128 first;
    U128 last;
  };
  std::vector<Range> ranges_;
  // IPv4-only ranges again as 32-bit bounds: 8 bytes per range keeps a
  // 100,000-block set within a few hundred KB, so the binary search stays
  // in cache. Ranges crossing the v4-mapped block stay only in ranges_.
  std::vector<uint32_t> v4First_;
  std::vector<uint32_t> v4Last_;
  std::vector<Range> wide_;  ///< ranges that are not v4-only (v6, or spanning)
  bool finalized_ = true;
};

}  // namespace portcullis::acl
