#pragma once
// Which parent proxies a request tries, in which order. Pure: no sockets,
// no clock; the caller says which parents apply (their destination sets)
// and which are up (ParentHealth).
//
// Cacheable requests (GET, HEAD) are spread by weighted rendezvous hashing
// (highest random weight, the idea behind Squid's CARP): each parent scores
// hash(parent, URL) scaled by its weight and the best score goes first. A
// parent that goes away takes only its own URLs with it; every other URL
// keeps its parent, so the parents' caches stay warm. Other requests and
// CONNECT try the parents in file order (the first up parent is the
// primary, the next its backup).

#include <cstdint>
#include <string_view>
#include <vector>

namespace portcullis::proxy {

/// One parent that applies to the request.
struct ParentCandidate {
  size_t index = 0;       ///< the caller's (config order)
  std::string_view name;  ///< hashed with the URL: stable across reloads and reorderings
  uint32_t weight = 1;    ///< share of the hashed URLs; 0 counts as 1
  bool up = true;         ///< false: skipped unless `tryDown`
};

/// How to order the candidates.
struct ParentOrder {
  bool hashed = false;   ///< rendezvous hashing on `url` (cacheable requests)
  bool tryDown = false;  ///< down parents still go last (nothing else is allowed)
};

/// The candidates' indexes in the order to try them: up parents by score
/// (hashed) or in the given order, then (tryDown) the down ones the same way.
std::vector<size_t> orderParents(const std::vector<ParentCandidate>& candidates,
                                 std::string_view url, ParentOrder order);

/// The rendezvous score of `name` for `url` with `weight` (higher wins):
/// -weight / ln(u) with u = hash(name, url) mapped into (0, 1).
double rendezvousScore(std::string_view name, std::string_view url, uint32_t weight);

}  // namespace portcullis::proxy
