#include "daemon/proxy/fill_plan.h"

namespace portcullis::proxy {

std::optional<FillPlan> planFill(uint64_t limit, std::optional<uint64_t> bodyLeft,
                                 std::optional<uint64_t> unitLeft) {
  if (limit == 0) return std::nullopt;
  if (!bodyLeft) {
    // Without a length nothing says when the object is whole: bounded by the
    // limit alone (a slice writer needs a length, so no unit here).
    return FillPlan{FillPlan::Kind::kCapped, limit};
  }
  if (unitLeft && *unitLeft < *bodyLeft) {
    // A sliced object: finish the slice being written, not the rest of a
    // 3 GiB body; the slices before it are whole already.
    if (*unitLeft > limit) return std::nullopt;
    if (*unitLeft == 0) return std::nullopt;  // at a boundary: nothing half-done to save
    return FillPlan{FillPlan::Kind::kToUnitEnd, *unitLeft};
  }
  if (*bodyLeft > limit) return std::nullopt;
  return FillPlan{FillPlan::Kind::kToEnd, 0};
}

}  // namespace portcullis::proxy
