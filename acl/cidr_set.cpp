#include "acl/cidr_set.h"

#include <algorithm>

namespace portcullis::acl {

void CidrSet::add(const Cidr& cidr) {
  ranges_.push_back(Range{cidr.first(), cidr.last()});
  finalized_ = false;
}

void CidrSet::finalize() {
  if (finalized_) return;
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  std::vector<Range> merged;
  merged.reserve(ranges_.size());
  for (const Range& r : ranges_) {
    if (!merged.empty()) {
      Range& top = merged.back();
      // Overlapping or directly adjacent: extend the previous range.
      if (top.last.isMax() || r.first <= top.last.next()) {
        if (top.last < r.last) top.last = r.last;
        continue;
      }
    }
    merged.push_back(r);
  }
  ranges_ = std::move(merged);
  ranges_.shrink_to_fit();
  v4First_.clear();
  v4Last_.clear();
  wide_.clear();
  constexpr uint64_t kMappedHi = 0;
  constexpr uint64_t kMappedLoTop = 0x0000ffff00000000ull;
  for (const Range& r : ranges_) {
    bool v4Only = r.first.hi == kMappedHi && r.last.hi == kMappedHi &&
                  (r.first.lo & 0xffffffff00000000ull) == kMappedLoTop &&
                  (r.last.lo & 0xffffffff00000000ull) == kMappedLoTop;
    if (v4Only) {
      v4First_.push_back(static_cast<uint32_t>(r.first.lo));
      v4Last_.push_back(static_cast<uint32_t>(r.last.lo));
    } else {
      wide_.push_back(r);
    }
  }
  finalized_ = true;
}

bool CidrSet::contains(const IpAddress& a) const {
  if (a.isV4() && !v4First_.empty()) {
    uint32_t v = a.v4();
    // First range whose start is > v; the candidate is the one before it.
    auto it = std::upper_bound(v4First_.begin(), v4First_.end(), v);
    if (it != v4First_.begin() && v <= v4Last_[static_cast<size_t>(it - v4First_.begin()) - 1]) {
      return true;
    }
  }
  if (wide_.empty()) return false;
  U128 v = U128::fromAddress(a);
  auto it = std::upper_bound(wide_.begin(), wide_.end(), v,
                             [](const U128& x, const Range& r) { return x < r.first; });
  if (it == wide_.begin()) return false;
  --it;
  return v <= it->last;
}

bool CidrSet::coversAll(const CidrSet& other) const {
  for (const Range& r : other.ranges_) {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), r.first,
                               [](const U128& x, const Range& q) { return x < q.first; });
    if (it == ranges_.begin()) return false;
    --it;
    // Ranges are merged, so one range must hold all of r.
    if (r.last > it->last) return false;
  }
  return true;
}

bool CidrSet::intersects(const CidrSet& other) const {
  size_t i = 0, j = 0;
  while (i < ranges_.size() && j < other.ranges_.size()) {
    const Range& a = ranges_[i];
    const Range& b = other.ranges_[j];
    if (a.last < b.first) {
      ++i;
    } else if (b.last < a.first) {
      ++j;
    } else {
      return true;
    }
  }
  return false;
}

}  // namespace portcullis::acl
