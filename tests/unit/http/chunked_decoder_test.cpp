#include "daemon/http/chunked_decoder.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace std::string_view_literals;
using namespace portcullis::http;

namespace {

struct Decoded {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;  ///< total over all feeds
  std::string payload;
  bool operator==(const Decoded& o) const {
    return status == o.status && consumed == o.consumed && payload == o.payload;
  }
};

doctest::String toString(const Decoded& d) {
  std::string s = "{status=" + std::to_string(static_cast<int>(d.status)) +
                  " consumed=" + std::to_string(d.consumed) + " payload=" + d.payload + "}";
  return doctest::String(s.c_str());
}

/// Feeds `in` in pieces of `step` bytes (0: whole).
Decoded feed(std::string_view in, size_t step, ChunkedDecoder::Limits limits = {}) {
  ChunkedDecoder d(limits);
  Decoded r;
  size_t pos = 0;
  do {
    const size_t len = step == 0 ? in.size() - pos : std::min(step, in.size() - pos);
    const ParseOutcome o = d.decode(in.substr(pos, len), r.payload);
    r.status = o.status;
    if (o.status == ParseStatus::kInvalid) {
      r.consumed = 0;
      r.payload.clear();
      return r;
    }
    if (o.status == ParseStatus::kNeedMore) CHECK(o.consumed == len);
    r.consumed += o.consumed;
    pos += len;
    if (o.status == ParseStatus::kDone) {
      CHECK(d.finished());
      CHECK(d.payloadBytes() == r.payload.size());
      return r;
    }
  } while (pos < in.size());
  return r;
}

Decoded feedSplit(std::string_view in, size_t split) {
  ChunkedDecoder d;
  Decoded r;
  for (std::string_view part : {in.substr(0, split), in.substr(split)}) {
    const ParseOutcome o = d.decode(part, r.payload);
    r.status = o.status;
    if (o.status == ParseStatus::kInvalid) return Decoded{ParseStatus::kInvalid, 0, {}};
    r.consumed += o.consumed;
    if (o.status == ParseStatus::kDone) break;
  }
  return r;
}

Decoded allWays(std::string_view in) {
  const Decoded whole = feed(in, 0);
  CHECK(feed(in, 1) == whole);
  CHECK(feed(in, 3) == whole);
  for (size_t s = 0; s <= in.size(); ++s) {
    const Decoded two = feedSplit(in, s);
    if (!(two == whole)) {
      CHECK_MESSAGE(two == whole, "split at ", s);
      break;
    }
  }
  return whole;
}

}  // namespace

TEST_CASE("chunked decoder table") {
  struct Row {
    const char* name;
    std::string_view in;
    ParseStatus status;
    std::string_view payload = {};
    size_t leftover = 0;
  };
  const Row rows[] = {
      {"simple", "3\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kDone, "abc"},
      {"only last chunk", "0\r\n\r\n"sv, ParseStatus::kDone, ""},
      {"upper and lower hex", "a\r\n0123456789\r\nB\r\n0123456789a\r\n0\r\n\r\n"sv,
       ParseStatus::kDone, "01234567890123456789a"},
      {"16 hex digits accepted", "0000000000000003\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kDone,
       "abc"},
      {"extensions", "3;a;b=c;d=\"e;f\\\"\"\r\nabc\r\n0;x=y\r\n\r\n"sv, ParseStatus::kDone, "abc"},
      {"BWS around ext", "3 \t; a = \"q\" ;b\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kDone, "abc"},
      {"trailers dropped", "1\r\nx\r\n0\r\nA: 1\r\nB-C: two words\r\n\r\n"sv, ParseStatus::kDone,
       "x"},
      {"bytes after end left", "1\r\nx\r\n0\r\n\r\nNEXT"sv, ParseStatus::kDone, "x", 4},
      {"binary data with CRLF inside", "4\r\n\r\n\0\n\r\n0\r\n\r\n"sv, ParseStatus::kDone,
       "\r\n\0\n"sv},
      {"incomplete data", "5\r\nab"sv, ParseStatus::kNeedMore, "ab"},
      {"incomplete trailer", "0\r\nA: 1\r\n"sv, ParseStatus::kNeedMore, ""},
      {"17 hex digits", "fffffffffffffffff\r\n"sv, ParseStatus::kInvalid},
      {"17 digits with leading zero", "00000000000000001\r\nx\r\n0\r\n\r\n"sv,
       ParseStatus::kInvalid},
      {"2^63", "8000000000000000\r\n"sv, ParseStatus::kInvalid},
      {"0x prefix", "0x3\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"plus sign", "+3\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"minus sign", "-3\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"leading space", " 3\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"trailing space", "3 \r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"trailing tab", "3\t\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"junk after size", "3g\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"empty size", "\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"bare LF after size", "3\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"bare CR in size line", "3\rx\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"NUL in size line", "3\0\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"no CRLF after data", "3\r\nabcd\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"CR only after data", "3\r\nabc\r0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"LF only after data", "3\r\nabc\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"ext name missing", "3;=x\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"ext value missing", "3;a=\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"ext trailing BWS", "3;a \r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"ext quoted CTL", "3;a=\"\x01\"\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"ext unterminated quote", "3;a=\"x\r\nabc\r\n0\r\n\r\n"sv, ParseStatus::kInvalid},
      {"trailer obs-fold", "0\r\nA: 1\r\n 2\r\n\r\n"sv, ParseStatus::kInvalid},
      {"trailer space before colon", "0\r\nA : 1\r\n\r\n"sv, ParseStatus::kInvalid},
      {"trailer without colon", "0\r\nA\r\n\r\n"sv, ParseStatus::kInvalid},
      {"trailer bare CR", "0\r\nA: 1\r2\r\n\r\n"sv, ParseStatus::kInvalid},
      {"final bare LF", "0\r\n\n"sv, ParseStatus::kInvalid},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name) {
      const Decoded d = allWays(r.in);
      CHECK(d.status == r.status);
      if (r.status != ParseStatus::kInvalid) CHECK(d.payload == r.payload);
      if (r.status == ParseStatus::kDone) CHECK(d.consumed == r.in.size() - r.leftover);
    }
  }
}

TEST_CASE("chunked decoder limits") {
  ChunkedDecoder::Limits limits;
  limits.maxLineBytes = 16;
  limits.maxTrailerBytes = 24;
  SUBCASE("size line at the limit") {
    CHECK(feed("3;aaaaaaaaaaaa\r\nabc\r\n0\r\n\r\n"sv, 1, limits).status == ParseStatus::kDone);
  }
  SUBCASE("size line over the limit, whole or not") {
    CHECK(feed("3;aaaaaaaaaaaaa\r\nabc\r\n0\r\n\r\n"sv, 0, limits).status == ParseStatus::kInvalid);
    CHECK(feed("3;aaaaaaaaaaaaa\r\nabc\r\n0\r\n\r\n"sv, 1, limits).status == ParseStatus::kInvalid);
  }
  SUBCASE("endless extension without line end") {
    CHECK(feed("3;" + std::string(20, 'a'), 1, limits).status == ParseStatus::kInvalid);
  }
  SUBCASE("trailer section over the limit") {
    CHECK(feed("0\r\nA: 1234567\r\nB: 1234567\r\n\r\n"sv, 0, limits).status ==
          ParseStatus::kInvalid);
    CHECK(feed("0\r\nA: 1234567\r\nB: 1234\r\n\r\n"sv, 2, limits).status == ParseStatus::kDone);
  }
}

TEST_CASE("chunked decoder state after the end") {
  ChunkedDecoder d;
  std::string out;
  REQUIRE(d.decode("0\r\n\r\nXYZ"sv, out).consumed == 5);
  const ParseOutcome again = d.decode("XYZ"sv, out);
  CHECK(again.status == ParseStatus::kDone);
  CHECK(again.consumed == 0);
  d.reset();
  CHECK_FALSE(d.finished());
  CHECK(d.decode("zz\r\n"sv, out).status == ParseStatus::kInvalid);
  CHECK(d.decode("0\r\n\r\n"sv, out).status == ParseStatus::kInvalid);  // stays invalid
}

TEST_CASE("appendChunk / appendLastChunk round-trip through the decoder") {
  std::string wire;
  const std::string big(300, 'z');
  appendChunk(wire, "hello");
  appendChunk(wire, big);
  appendChunk(wire, "\r\n0\r\n\r\n");
  appendLastChunk(wire);
  CHECK(wire.substr(0, 10) == "5\r\nhello\r\n");
  CHECK(wire.substr(10, 5) == "12c\r\n");
  CHECK(wire.substr(wire.size() - 5) == "0\r\n\r\n");
  const Decoded d = allWays(wire);
  CHECK(d.status == ParseStatus::kDone);
  CHECK(d.payload == "hello" + big + "\r\n0\r\n\r\n");
  CHECK(d.consumed == wire.size());
}
