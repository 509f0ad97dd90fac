#include "daemon/http/char_class.h"

#include <doctest/doctest.h>

namespace portcullis::http {
namespace {

TEST_CASE("parseDigits reads 1*DIGIT up to the digits asked for") {
  uint64_t v = 7;
  CHECK(parseDigits("0", 18, v));
  CHECK(v == 0);
  CHECK(parseDigits("123456789012345678", 18, v));
  CHECK(v == 123456789012345678u);
  CHECK(parseDigits("9999999999999999999", 19, v));  // 19 digits: no overflow
  CHECK(v == 9999999999999999999u);
}

TEST_CASE("parseDigits refuses empty, too long, signed, spaced and non-digit text") {
  uint64_t v = 0;
  CHECK_FALSE(parseDigits("", 18, v));
  CHECK_FALSE(parseDigits("1234567890123456789", 18, v));   // 19 digits where 18 fit
  CHECK_FALSE(parseDigits("18446744073709551616", 20, v));  // more than 19 never fits
  CHECK_FALSE(parseDigits("+1", 18, v));
  CHECK_FALSE(parseDigits("-1", 18, v));
  CHECK_FALSE(parseDigits(" 1", 18, v));
  CHECK_FALSE(parseDigits("1a", 18, v));
  CHECK_FALSE(parseDigits("0x10", 18, v));
}

TEST_CASE("trimOws removes SP and HTAB only, at both ends") {
  CHECK(trimOws(" \t a b\t ") == "a b");
  CHECK(trimOws("\r\na\n") == "\r\na\n");
  CHECK(trimOws("  ").empty());
}

}  // namespace
}  // namespace portcullis::http
