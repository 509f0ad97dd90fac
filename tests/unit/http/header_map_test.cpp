#include "daemon/http/header_map.h"

#include <doctest/doctest.h>

using namespace portcullis::http;

TEST_CASE("equalsIgnoreCase") {
  CHECK(equalsIgnoreCase("Content-Length", "content-LENGTH"));
  CHECK_FALSE(equalsIgnoreCase("Content-Length", "Content-Lengt"));
  CHECK_FALSE(equalsIgnoreCase("a", "b"));
  CHECK_FALSE(equalsIgnoreCase("\xc1", "\xe1"));  // only ASCII letters fold
  CHECK(equalsIgnoreCase("", ""));
}

TEST_CASE("HeaderMap basics") {
  HeaderMap h;
  CHECK(h.empty());
  h.add("Accept", "a");
  h.add("Vary", "x");
  h.add("accept", "b");
  CHECK(h.size() == 3);
  CHECK(h.has("ACCEPT"));
  CHECK_FALSE(h.has("Accept-Encoding"));
  CHECK(h.get("accept") == "a");
  CHECK_FALSE(h.get("nope").has_value());
  CHECK(h.count("Accept") == 2);
  const auto all = h.getAll("Accept");
  REQUIRE(all.size() == 2);
  CHECK(all[1] == "b");
  CHECK(h.getCombined("accept") == "a, b");
  CHECK_FALSE(h.getCombined("nope").has_value());

  SUBCASE("set keeps the first position and drops the rest") {
    h.set("ACCEPT", "c");
    REQUIRE(h.size() == 2);
    CHECK(h.fields()[0].name == "ACCEPT");
    CHECK(h.fields()[0].value == "c");
    CHECK(h.fields()[1].name == "Vary");
  }
  SUBCASE("set appends a new field") {
    h.set("Via", "1.1 p");
    CHECK(h.fields().back().name == "Via");
  }
  SUBCASE("remove") {
    CHECK(h.remove("accept") == 2);
    CHECK(h.remove("accept") == 0);
    CHECK(h.size() == 1);
  }
  SUBCASE("clear") {
    h.clear();
    CHECK(h.empty());
  }
}

TEST_CASE("hasToken splits lists, trims OWS, ignores case") {
  HeaderMap h;
  h.add("Connection", "keep-alive ,\tUpgrade");
  h.add("connection", ",close,");
  h.add("Cache-Control", "no-cache=\"x\", max-age=5");
  CHECK(h.hasToken("Connection", "upgrade"));
  CHECK(h.hasToken("Connection", "KEEP-ALIVE"));
  CHECK(h.hasToken("connection", "close"));
  CHECK_FALSE(h.hasToken("Connection", "keep"));
  CHECK_FALSE(h.hasToken("Connection", "alive"));
  CHECK_FALSE(h.hasToken("Upgrade", "close"));
  CHECK(h.hasToken("Cache-Control", "max-age=5"));
  CHECK_FALSE(h.hasToken("Cache-Control", "no-cache"));
  CHECK(listContainsToken("a, b", "B"));
  CHECK_FALSE(listContainsToken("", "a"));
}
