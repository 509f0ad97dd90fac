// planFill: how far a fill runs on after its client left.

#include "daemon/proxy/fill_plan.h"

#include <doctest/doctest.h>

using portcullis::proxy::FillPlan;
using portcullis::proxy::planFill;

TEST_CASE("planFill bounds a fill by fill_after_abort") {
  constexpr uint64_t MiB = 1 << 20;
  using K = FillPlan::Kind;
  struct Case {
    const char* name;
    uint64_t limit;
    std::optional<uint64_t> bodyLeft, unitLeft;
    bool fills;
    K kind;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"off", 0, 100, std::nullopt, false, K::kToEnd, 0},
      {"whole object within the limit", 8 * MiB, 3 * MiB, std::nullopt, true, K::kToEnd, 0},
      {"exactly the limit left", 8 * MiB, 8 * MiB, std::nullopt, true, K::kToEnd, 0},
      {"more left than the limit", 8 * MiB, 8 * MiB + 1, std::nullopt, false, K::kToEnd, 0},
      {"no length: capped", 8 * MiB, std::nullopt, std::nullopt, true, K::kCapped, 8 * MiB},
      {"a slice fetch is its own body", 8 * MiB, MiB / 2, MiB / 2, true, K::kToEnd, 0},
      {"a sliced 200: the slice, not 3 GiB", 8 * MiB, 3072 * MiB, 300, true, K::kToUnitEnd, 300},
      {"a slice bigger than the limit", MiB, 3072 * MiB, MiB + 1, false, K::kToEnd, 0},
      {"at a slice boundary", 8 * MiB, 3072 * MiB, 0, false, K::kToEnd, 0},
      {"unit beyond the body (truncated)", 8 * MiB, 10, 300, true, K::kToEnd, 0},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto plan = planFill(c.limit, c.bodyLeft, c.unitLeft);
      REQUIRE(plan.has_value() == c.fills);
      if (plan) {
        CHECK(plan->kind == c.kind);
        CHECK(plan->bytes == c.bytes);
      }
    }
  }
}
