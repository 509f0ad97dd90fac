#include "daemon/log/json_writer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "tests/unit/log/json_check.h"

using portcullis::log::appendEscaped;
using portcullis::log::JsonArray;
using portcullis::log::JsonObject;
using portcullis::testing::isValidUtf8;
using portcullis::testing::JsonReader;

namespace {
std::string esc(std::string_view s) {
  std::string out;
  appendEscaped(out, s);
  return out;
}
}  // namespace

TEST_CASE("appendEscaped: exact output for hostile strings") {
  struct Case {
    const char* name;
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"plain", "http://a/b?c=d", "http://a/b?c=d"},
      {"quote", "a\"b", "a\\\"b"},
      {"backslash", "a\\b", "a\\\\b"},
      {"newline forges a line", "x\n{\"forged\":1}", "x\\n{\\\"forged\\\":1}"},
      {"cr tab", "\r\t", "\\r\\t"},
      {"nul", std::string("a\0b", 3), "a\\u0000b"},
      {"esc and bell", "\x1b[31m\x07", "\\u001b[31m\\u0007"},
      {"del", "\x7f", "\\u007f"},
      {"valid 2-byte", "caf\xc3\xa9", "caf\xc3\xa9"},
      {"valid 3-byte", "\xe2\x82\xac", "\xe2\x82\xac"},
      {"valid 4-byte", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
      {"lone continuation", "a\x80z", "a\\ufffdz"},
      {"invalid lead C0", "\xc0\xaf", "\\ufffd\\ufffd"},
      {"overlong 3-byte", "\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},
      {"surrogate", "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},
      {"above U+10FFFF", "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},
      {"F5 lead", "\xf5", "\\ufffd"},
      {"truncated 3-byte at end", "a\xe2\x82", "a\\ufffd"},
      {"truncated 4-byte then ascii", "\xf0\x9f\x98z", "\\ufffdz"},
      {"truncated then quote", "\xe2\"", "\\ufffd\\\""},
      {"ff", "\xff\xfe", "\\ufffd\\ufffd"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      const std::string got = esc(c.in);
      CHECK(got == c.want);
      // Whatever the input, the quoted result is one valid JSON string
      // that decodes without raw control bytes and is valid UTF-8.
      const std::string quoted = "\"" + got + "\"";
      CHECK(isValidUtf8(quoted));
      CHECK(quoted.find('\n') == std::string::npos);
      CHECK_NOTHROW(JsonReader::parse(quoted));
    }
  }
}

TEST_CASE("appendEscaped: every single byte and byte pair stays valid JSON") {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 17) {
      std::string in;
      in.push_back(static_cast<char>(a));
      in.push_back(static_cast<char>(b));
      in += "\xe2\x82";  // a truncated sequence at the end, too
      const std::string quoted = "\"" + esc(in) + "\"";
      REQUIRE(isValidUtf8(quoted));
      REQUIRE_NOTHROW(JsonReader::parse(quoted));
    }
  }
}

TEST_CASE("escaped valid text round-trips through a JSON reader") {
  const std::string in = "GET \"/\\\x01\" caf\xc3\xa9 \xf0\x9f\x98\x80\n";
  const auto v = JsonReader::parse("\"" + esc(in) + "\"");
  CHECK(v.string == in);
}

TEST_CASE("JsonObject builds typed fields") {
  JsonObject o;
  o.field("s", "x\"y")
      .field("i", -3)
      .field("u", uint64_t{18446744073709551615ull})
      .field("d", 1.5)
      .field("b", true)
      .null("n")
      .optional("e", "")
      .raw("a", JsonArray().value("q").value(2.0).finish());
  const std::string text = std::move(o).finish();
  CHECK(text ==
        "{\"s\":\"x\\\"y\",\"i\":-3,\"u\":18446744073709551615,\"d\":1.5,\"b\":true,"
        "\"n\":null,\"e\":null,\"a\":[\"q\",2]}");
  CHECK_NOTHROW(JsonReader::parse(text));
}

TEST_CASE("non-finite doubles become null") {
  JsonObject o;
  o.field("nan", std::nan("")).field("inf", std::numeric_limits<double>::infinity());
  CHECK(std::move(o).finish() == "{\"nan\":null,\"inf\":null}");
}
