// The top objects by bytes saved (daemon/admin/top_objects.h): exact while
// everything fits, bounded and still right for the heavy hitters after.

#include "daemon/admin/top_objects.h"

#include <doctest/doctest.h>

#include <string>

using portcullis::admin::TopObjects;

TEST_CASE("top objects are exact while every object has a counter") {
  TopObjects t(8);
  t.add("http://a/x", 1000, 1000);
  t.add("http://b/y", 5000, 5000);
  t.add("http://a/x", 1000, 400);  // a range of it
  const auto top = t.top(10);
  REQUIRE(top.size() == 2);
  CHECK(top[0].key == "http://b/y");
  CHECK(top[0].bytesSaved == 5000);
  CHECK(top[0].hits == 1);
  CHECK(top[1].key == "http://a/x");
  CHECK(top[1].bytesSaved == 1400);
  CHECK(top[1].hits == 2);
  CHECK(top[1].size == 1000);
  CHECK(top[1].error == 0);
  CHECK(t.top(1).size() == 1);
}

TEST_CASE("a flood of one-off objects neither grows it nor pushes out a heavy hitter") {
  TopObjects t(16);
  for (int round = 0; round < 50; ++round) {
    t.add("http://big/update.bin", 1 << 20, 1 << 20);
    for (int i = 0; i < 100; ++i) {
      t.add("http://small/" + std::to_string(round * 100 + i), 100, 100);
    }
  }
  const auto top = t.top(100);
  CHECK(top.size() == 16);  // bounded by the capacity
  CHECK(top[0].key == "http://big/update.bin");
  CHECK(top[0].bytesSaved == 50ull << 20);
  CHECK(top[0].hits == 50);
  // A newcomer inherits the smallest count: over-estimated, never under.
  for (size_t i = 1; i < top.size(); ++i) CHECK(top[i].bytesSaved >= 100);
}
