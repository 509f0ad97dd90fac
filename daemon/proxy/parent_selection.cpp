#include "daemon/proxy/parent_selection.h"

#include <algorithm>
#include <cmath>

namespace portcullis::proxy {

namespace {

// FNV-1a, then the splitmix64 finaliser: FNV alone mixes the last bytes
// poorly, and URLs often differ only there.
uint64_t hashPair(std::string_view a, std::string_view b) {
  uint64_t h = 1469598103934665603ULL;
  auto feed = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  feed(a);
  feed(std::string_view("\n", 1));
  feed(b);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

double rendezvousScore(std::string_view name, std::string_view url, uint32_t weight) {
  // 53 random bits mapped into (0, 1): never 0 (log(0)) nor 1 (division by 0).
  const uint64_t bits = hashPair(name, url) >> 11;
  const double u = (static_cast<double>(bits) + 0.5) / 9007199254740992.0;
  // Weighted rendezvous hashing (Schindelhauer & Schomaker): the parent with
  // the highest -w/ln(u) wins, with probability proportional to its weight.
  return -static_cast<double>(std::max<uint32_t>(weight, 1)) / std::log(u);
}

std::vector<size_t> orderParents(const std::vector<ParentCandidate>& candidates,
                                 std::string_view url, ParentOrder order) {
  std::vector<std::pair<double, size_t>> up, down;  // (score, position)
  for (size_t i = 0; i < candidates.size(); ++i) {
    const ParentCandidate& c = candidates[i];
    // File order: an earlier parent scores higher.
    double score = order.hashed ? rendezvousScore(c.name, url, c.weight) : -static_cast<double>(i);
    (c.up ? up : down).emplace_back(score, i);
  }
  auto byScore = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::stable_sort(up.begin(), up.end(), byScore);
  std::stable_sort(down.begin(), down.end(), byScore);
  std::vector<size_t> out;
  out.reserve(candidates.size());
  for (const auto& [score, i] : up) out.push_back(candidates[i].index);
  if (order.tryDown) {
    for (const auto& [score, i] : down) out.push_back(candidates[i].index);
  }
  return out;
}

}  // namespace portcullis::proxy
