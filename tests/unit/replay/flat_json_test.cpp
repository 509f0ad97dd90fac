// The strict reader of flat JSON access-log lines.
#include <doctest/doctest.h>

#include "daemon/replay/flat_json.h"

using namespace portcullis::replay;

TEST_CASE("a flat object: strings, numbers, booleans, null, arrays of strings") {
  FlatJson j;
  REQUIRE(j.parse(R"( {"a":"x\"\\\/\n\u00e9\ud83d\ude00","n":-12.5e3,"t":true,"f":false,)"
                  R"("z":null,"arr":["1.2.3.4","::1"],"e":[]} )"));
  CHECK(j.string("a") == "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  REQUIRE(j.find("n") != nullptr);
  CHECK(j.find("n")->kind == FlatField::Kind::kNumber);
  CHECK(j.find("n")->text == "-12.5e3");
  CHECK(j.find("t")->text == "true");
  CHECK(j.find("f")->text == "false");
  CHECK(j.find("z")->kind == FlatField::Kind::kNull);
  CHECK(j.string("z").empty());
  REQUIRE(j.find("arr")->items.size() == 2);
  CHECK(j.find("arr")->items[1] == "::1");
  CHECK(j.find("e")->items.empty());
  CHECK(j.find("missing") == nullptr);
  // Reused: nothing of the last line stays.
  REQUIRE(j.parse(R"({"b":1})"));
  CHECK(j.find("a") == nullptr);
  REQUIRE(j.parse("{}"));
}

TEST_CASE("anything else is refused with an offset, never guessed at") {
  FlatJson j;
  for (const char* bad : {"",
                          "[]",
                          "{",
                          "{\"a\"}",
                          "{\"a\":}",
                          "{\"a\":1,}",
                          "{\"a\":01}",
                          "{\"a\":\"x}",
                          "{\"a\":\"\\q\"}",
                          "{\"a\":\"\\u12\"}",
                          "{\"a\":{\"b\":1}}",
                          "{\"a\":[1]}",
                          "{\"a\":tru}",
                          "{\"a\":1} x",
                          "{\"a\":\"\x01\"}",
                          "{\"a\":1 \"b\":2}",
                          "{a:1}",
                          "{\"a\":-}",
                          "{\"a\":1.}",
                          "{\"a\":1e}"}) {
    CAPTURE(bad);
    CHECK_FALSE(j.parse(bad));
    CHECK(j.error().starts_with("offset "));
  }
  CHECK_FALSE(j.parse(R"({"a":{"b":1}})"));
  CHECK(j.error().find("nested object") != std::string::npos);
}
