#pragma once
// How far a cache fill may run on after its client left
// (cache.fill_after_abort): pure, so the bound is tested without a socket.
// A fill finishes the unit it is storing: the whole object for an ordinary
// entry, the current slice for a sliced one (a slice fetch, or a 200 stored
// as slices by SlicedWriter), and only when at most the limit is left.

#include <cstdint>
#include <optional>

namespace portcullis::proxy {

struct FillPlan {
  enum class Kind : uint8_t {
    kToEnd,      ///< read the body to its end (the Content-Length bounds it)
    kToUnitEnd,  ///< read `bytes` more (the slice's end), commit it, stop the body there
    kCapped,     ///< no length: read at most `bytes` more, then give up
  };
  Kind kind = Kind::kToEnd;
  uint64_t bytes = 0;
};

/// `limit`: cache.fill_after_abort (0 = off). `bodyLeft`: body bytes still
/// to come by Content-Length, nullopt without one. `unitLeft`: bytes until
/// what is being stored is whole when that comes before the body's end (the
/// slice a SlicedWriter fills), nullopt otherwise. Nullopt: no fill (abort).
std::optional<FillPlan> planFill(uint64_t limit, std::optional<uint64_t> bodyLeft,
                                 std::optional<uint64_t> unitLeft);

}  // namespace portcullis::proxy
