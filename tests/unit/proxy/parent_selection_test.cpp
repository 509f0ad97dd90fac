#include "daemon/proxy/parent_selection.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

using portcullis::proxy::orderParents;
using portcullis::proxy::ParentCandidate;
using portcullis::proxy::ParentOrder;

namespace {

std::vector<ParentCandidate> three() {
  return {{0, "a", 1, true}, {1, "b", 1, true}, {2, "c", 1, true}};
}

std::string url(int i) {
  return "http://example.org/object/" + std::to_string(i);
}

}  // namespace

TEST_CASE("parents in file order for requests that are not hashed") {
  auto c = three();
  SUBCASE("all up") {
    CHECK(orderParents(c, "x", {}) == std::vector<size_t>{0, 1, 2});
  }
  SUBCASE("a down parent is skipped") {
    c[0].up = false;
    CHECK(orderParents(c, "x", {}) == std::vector<size_t>{1, 2});
  }
  SUBCASE("down parents go last when nothing else is allowed") {
    c[0].up = false;
    CHECK(orderParents(c, "x", {.tryDown = true}) == std::vector<size_t>{1, 2, 0});
  }
  SUBCASE("all down, direct allowed: none") {
    for (auto& p : c) p.up = false;
    CHECK(orderParents(c, "x", {}).empty());
  }
}

TEST_CASE("hashing is stable and spreads URLs over the parents") {
  auto c = three();
  std::map<size_t, int> first;
  for (int i = 0; i < 3000; ++i) {
    auto order = orderParents(c, url(i), {.hashed = true});
    REQUIRE(order.size() == 3);
    CHECK(order == orderParents(c, url(i), {.hashed = true}));
    ++first[order[0]];
  }
  for (size_t p = 0; p < 3; ++p) {
    CHECK(first[p] > 850);  // 1000 expected each
    CHECK(first[p] < 1150);
  }
}

TEST_CASE("losing a parent moves only its share") {
  auto c = three();
  auto without = c;
  without[1].up = false;
  int moved = 0, ownedByB = 0;
  for (int i = 0; i < 3000; ++i) {
    size_t before = orderParents(c, url(i), {.hashed = true})[0];
    size_t after = orderParents(without, url(i), {.hashed = true})[0];
    if (before == 1) {
      ++ownedByB;
      CHECK(after != 1);
    } else if (before != after) {
      ++moved;
    }
  }
  CHECK(moved == 0);
  CHECK(ownedByB > 0);
  // Its URLs go to the next-best parent, which was already their backup.
  for (int i = 0; i < 100; ++i) {
    auto order = orderParents(c, url(i), {.hashed = true});
    if (order[0] == 1) CHECK(orderParents(without, url(i), {.hashed = true})[0] == order[1]);
  }
}

TEST_CASE("weights scale the share of hashed URLs") {
  std::vector<ParentCandidate> c = {{0, "big", 3, true}, {1, "small", 1, true}};
  int big = 0;
  for (int i = 0; i < 4000; ++i) big += orderParents(c, url(i), {.hashed = true})[0] == 0;
  CHECK(big > 2800);  // 3000 expected
  CHECK(big < 3200);
}

TEST_CASE("the order does not depend on the parents' order in the file") {
  auto c = three();
  std::vector<ParentCandidate> reversed = {c[2], c[1], c[0]};
  for (int i = 0; i < 50; ++i) {
    CHECK(orderParents(c, url(i), {.hashed = true}) ==
          orderParents(reversed, url(i), {.hashed = true}));
  }
}
