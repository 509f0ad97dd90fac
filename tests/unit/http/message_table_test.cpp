// Table of whole messages (head + framing + body), valid and invalid, each fed
// whole, byte by byte and split at every offset (see message_runner.h).
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "tests/unit/http/message_runner.h"

using namespace std::string_view_literals;
using namespace portcullis::http;
using namespace portcullis::http::testing;

namespace {

struct Fixture {
  const char* name;
  std::string_view bytes;
  int expect;              ///< kOk, kIncomplete or the error status
  const char* phase = "";  ///< where the error must come from ("head", "framing", "body")
  BodyKind kind = BodyKind::kNone;
  std::string_view body = {};
  size_t leftover = 0;  ///< bytes after the message (the next pipelined one)
};

#define REQ(fields) "POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\n" fields ""sv

const Fixture kRequests[] = {
    // ---- valid ----
    {"simple GET", "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n"sv, kOk},
    {"origin-form GET", "GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n"sv, kOk},
    {"HTTP/1.0 GET without Host", "GET http://a/ HTTP/1.0\r\n\r\n"sv, kOk},
    {"CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"sv, kOk},
    {"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"sv, kOk},
    {"unknown method token", "PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n"sv, kOk},
    {"leading CRLFs skipped", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"sv, kOk},
    {"OWS trimmed, inner HTAB kept", "GET / HTTP/1.1\r\nX: \t a\tb \t\r\n\r\n"sv, kOk},
    {"empty field value", "GET / HTTP/1.1\r\nX:\r\nY:   \r\n\r\n"sv, kOk},
    {"obs-text in value", "GET / HTTP/1.1\r\nX: caf\xc3\xa9\xff\r\n\r\n"sv, kOk},
    {"Expect 100-continue", REQ("Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"), kOk, "",
     BodyKind::kContentLength, "abc"},
    {"CL body", REQ("Content-Length: 5\r\n\r\nhello"), kOk, "", BodyKind::kContentLength, "hello"},
    {"CL zero", REQ("Content-Length: 0\r\n\r\n"), kOk, "", BodyKind::kContentLength, ""},
    {"CL leading zeros", REQ("Content-Length: 003\r\n\r\nabc"), kOk, "", BodyKind::kContentLength,
     "abc"},
    {"CL body then pipelined bytes", REQ("Content-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\n"), kOk, "",
     BodyKind::kContentLength, "hi", 16},
    {"chunked body",
     REQ("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), kOk, "",
     BodyKind::kChunked, "hello world"},
    {"chunked case-insensitive with OWS",
     REQ("Transfer-Encoding:  ChUnKeD \r\n\r\n1\r\nx\r\n0\r\n\r\n"), kOk, "", BodyKind::kChunked,
     "x"},
    {"chunked hex sizes and zero-padded last",
     REQ("Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0000\r\n\r\n"), kOk, "",
     BodyKind::kChunked, "0123456789"},
    {"chunk extensions",
     REQ("Transfer-Encoding: chunked\r\n\r\n3;a=b;c;d=\"x\\\"y; z\"\r\nabc\r\n0;e=f\r\n\r\n"), kOk,
     "", BodyKind::kChunked, "abc"},
    {"BWS before chunk extension",
     REQ("Transfer-Encoding: chunked\r\n\r\n3 ; a = b\r\nabc\r\n0\r\n\r\n"), kOk, "",
     BodyKind::kChunked, "abc"},
    {"chunked with trailers",
     REQ("Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\nY:\r\n\r\n"), kOk, "",
     BodyKind::kChunked, "ok"},
    {"chunked then pipelined request",
     REQ("Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), kOk, "",
     BodyKind::kChunked, "", 18},
    {"pipelined GET leaves second request",
     "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"sv, kOk, "",
     BodyKind::kNone, "", 28},
    // ---- incomplete ----
    {"head without final CRLF", "GET / HTTP/1.1\r\nHost: a\r\n"sv, kIncomplete},
    {"partial version", "GET / HTTP/1."sv, kIncomplete},
    {"CL body short", REQ("Content-Length: 5\r\n\r\nhel"), kIncomplete},
    {"chunked without last chunk", REQ("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
     kIncomplete},
    // ---- smuggling: framing ----
    {"TE and CL", REQ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400, "framing"},
    {"CL and TE", REQ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400, "framing"},
    {"CL list 5, 5", REQ("Content-Length: 5, 5\r\n\r\nhello"), 400, "framing"},
    {"duplicate CL lines", REQ("Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), 400,
     "framing"},
    {"CL plus sign", REQ("Content-Length: +5\r\n\r\nhello"), 400, "framing"},
    {"CL negative", REQ("Content-Length: -1\r\n\r\n"), 400, "framing"},
    {"CL inner space", REQ("Content-Length: 1 2\r\n\r\n"), 400, "framing"},
    {"CL hex", REQ("Content-Length: 0x5\r\n\r\n"), 400, "framing"},
    {"CL empty", REQ("Content-Length:\r\n\r\n"), 400, "framing"},
    {"CL 2^63 overflows", REQ("Content-Length: 9223372036854775808\r\n\r\n"), 400, "framing"},
    {"CL 20 digits", REQ("Content-Length: 99999999999999999999\r\n\r\n"), 400, "framing"},
    {"TE xchunked", REQ("Transfer-Encoding: xchunked\r\n\r\n"), 400, "framing"},
    {"TE chunked, identity", REQ("Transfer-Encoding: chunked, identity\r\n\r\n"), 400, "framing"},
    {"TE gzip, chunked", REQ("Transfer-Encoding: gzip, chunked\r\n\r\n"), 501, "framing"},
    {"TE chunked twice in list", REQ("Transfer-Encoding: chunked, chunked\r\n\r\n"), 400,
     "framing"},
    {"TE chunked on two lines",
     REQ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400, "framing"},
    {"TE empty member", REQ("Transfer-Encoding: , chunked\r\n\r\n"), 400, "framing"},
    {"TE quoted", REQ("Transfer-Encoding: \"chunked\"\r\n\r\n"), 400, "framing"},
    {"TE chunked with parameter", REQ("Transfer-Encoding: chunked;q=1\r\n\r\n"), 400, "framing"},
    {"TE empty", REQ("Transfer-Encoding:\r\n\r\n"), 400, "framing"},
    {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"sv, 400,
     "framing"},
    // ---- field syntax ----
    {"NUL in value", "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"sv, 400, "head"},
    {"bare CR in value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"sv, 400, "head"},
    {"ESC in value",
     "GET / HTTP/1.1\r\nX: a\x1b"
     "b\r\n\r\n"sv,
     400, "head"},
    {"DEL in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"sv, 400, "head"},
    {"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"sv, 400, "head"},
    {"obs-fold with HTAB", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"sv, 400, "head"},
    {"whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"sv, 400, "head"},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"sv, 400, "head"},
    {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"sv, 400, "head"},
    {"empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n"sv, 400, "head"},
    {"non-token field name", "GET / HTTP/1.1\r\nX\x01Y: a\r\n\r\n"sv, 400, "head"},
    {"field name with slash", "GET / HTTP/1.1\r\nX/Y: a\r\n\r\n"sv, 400, "head"},
    {"field without colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n"sv, 400, "head"},
    {"bare LF terminators", "GET / HTTP/1.1\nHost: a\n\n"sv, 400, "head"},
    {"bare LF after field", "GET / HTTP/1.1\r\nHost: a\n\r\n"sv, 400, "head"},
    {"bare LF as last line", "GET / HTTP/1.1\r\nHost: a\r\n\n"sv, 400, "head"},
    {"bare CR as last line", "GET / HTTP/1.1\r\nHost: a\r\n\rX"sv, 400, "head"},
    // ---- request line ----
    {"bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n"sv, 400, "head"},
    {"CR CR LF after version", "GET / HTTP/1.1\r\r\n\r\n"sv, 400, "head"},
    {"double SP", "GET  / HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"trailing SP", "GET / HTTP/1.1 \r\n\r\n"sv, 400, "head"},
    {"SP in target", "GET /a b HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"HTAB as separator", "GET\t/ HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"HTAB in target", "GET /\t HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"DEL in target", "GET /\x7f HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"NUL in target", "GET /\0 HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"lower-case version", "GET / http/1.1\r\n\r\n"sv, 400, "head"},
    {"three-digit minor", "GET / HTTP/1.10\r\n\r\n"sv, 400, "head"},
    {"HTTP/0.9 style", "GET /\r\n\r\n"sv, 400, "head"},
    {"missing version", "GET / \r\n\r\n"sv, 400, "head"},
    {"invalid method char", "G@T / HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"leading SP", " GET / HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"leading bare LF", "\nGET / HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"leading bare CR", "\r\rGET / HTTP/1.1\r\n\r\n"sv, 400, "head"},
    {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n"sv, 505, "head"},
    {"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n"sv, 505, "head"},
    {"HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n"sv, 505, "head"},
    // ---- chunked body ----
    {"chunk size 17 hex digits", REQ("Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"),
     400, "body"},
    {"chunk size 2^63", REQ("Transfer-Encoding: chunked\r\n\r\n8000000000000000\r\n"), 400, "body"},
    {"chunk size with junk", REQ("Transfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n"), 400,
     "body"},
    {"chunk size 0x", REQ("Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"), 400,
     "body"},
    {"chunk size plus", REQ("Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n"), 400,
     "body"},
    {"chunk size leading SP", REQ("Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"),
     400, "body"},
    {"chunk size trailing SP", REQ("Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
     400, "body"},
    {"chunk size empty", REQ("Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"), 400,
     "body"},
    {"chunk size bare LF", REQ("Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"), 400,
     "body"},
    {"missing CRLF after data", REQ("Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n"), 400,
     "body"},
    {"LF only after data", REQ("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"), 400,
     "body"},
    {"chunk data longer than size",
     REQ("Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"), 400, "body"},
    {"chunk ext without name", REQ("Transfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n"),
     400, "body"},
    {"chunk ext unterminated quote",
     REQ("Transfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n"), 400, "body"},
    {"chunk ext junk value", REQ("Transfer-Encoding: chunked\r\n\r\n5;a=b c\r\nhello\r\n0\r\n\r\n"),
     400, "body"},
    {"trailer with obs-fold", REQ("Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n"), 400,
     "body"},
    {"trailer space before colon", REQ("Transfer-Encoding: chunked\r\n\r\n0\r\nX : a\r\n\r\n"), 400,
     "body"},
    {"trailer NUL", REQ("Transfer-Encoding: chunked\r\n\r\n0\r\nX: \0\r\n\r\n"), 400, "body"},
    {"trailer bare LF end", REQ("Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n\n"), 400, "body"},
};

const Fixture kResponses[] = {
    {"200 with CL", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"sv, kOk, "",
     BodyKind::kContentLength, "hi"},
    {"200 chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"sv,
     kOk, "", BodyKind::kChunked, "hi"},
    {"200 until close", "HTTP/1.0 200 OK\r\n\r\nall of it"sv, kOk, "", BodyKind::kUntilClose,
     "all of it"},
    {"status without reason or SP", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"sv, kOk, "",
     BodyKind::kContentLength, ""},
    {"status with SP and empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"sv, kOk, "",
     BodyKind::kContentLength, ""},
    {"reason with obs-text and HTAB", "HTTP/1.1 200 \xc3\xa9t\t\xe9\r\nContent-Length: 0\r\n\r\n"sv,
     kOk, "", BodyKind::kContentLength, ""},
    {"204 ignores CL", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"sv, kOk},
    {"304 ignores CL", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"sv, kOk},
    {"100 Continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"sv, kOk, "", BodyKind::kNone,
     "", 17},
    {"response with pipelined next", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1"sv, kOk,
     "", BodyKind::kContentLength, "x", 8},
    {"until close incomplete is fine", "HTTP/1.1 200 OK\r\n\r\n"sv, kOk, "", BodyKind::kUntilClose,
     ""},
    {"CL body short", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"sv, kIncomplete},
    {"status 2 digits", "HTTP/1.1 20 OK\r\n\r\n"sv, 502, "head"},
    {"status 4 digits", "HTTP/1.1 2000 OK\r\n\r\n"sv, 502, "head"},
    {"status 099", "HTTP/1.1 099 x\r\n\r\n"sv, 502, "head"},
    {"status 600", "HTTP/1.1 600 x\r\n\r\n"sv, 502, "head"},
    {"status letters", "HTTP/1.1 2x0 OK\r\n\r\n"sv, 502, "head"},
    {"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"sv, 502, "head"},
    {"ICY", "ICY 200 OK\r\n\r\n"sv, 502, "head"},
    {"double SP", "HTTP/1.1  200 OK\r\n\r\n"sv, 502, "head"},
    {"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"sv, 502, "head"},
    {"leading CRLF", "\r\nHTTP/1.1 200 OK\r\n\r\n"sv, 502, "head"},
    {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"sv, 502, "head"},
    {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"sv, 502, "head"},
    {"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"sv, 502, "head"},
    {"TE and CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"sv,
     502, "framing"},
    {"TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"sv, 502,
     "framing"},
    {"TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"sv, 502, "framing"},
    {"TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"sv, 502, "framing"},
    {"CL list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx"sv, 502, "framing"},
    {"duplicate CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"sv, 502,
     "framing"},
    {"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n"sv, 400, "body"},
};

void checkFixture(const Fixture& f, Direction dir) {
  const Outcome o = runAllWays(f.bytes, ParseLimits{}, dir);
  CHECK(o.error == f.expect);
  if (f.expect > 0) CHECK(o.phase == std::string(f.phase));
  if (f.expect == kOk) {
    CHECK(o.kind == f.kind);
    CHECK(o.body == f.body);
    CHECK(o.consumed == f.bytes.size() - f.leftover);
  }
}

}  // namespace

TEST_CASE("request message table: whole, byte by byte, every split agree") {
  size_t invalid = 0;
  for (const Fixture& f : kRequests) {
    invalid += f.expect > 0 ? 1 : 0;
    SUBCASE(f.name) {
      checkFixture(f, Direction{});
    }
  }
  CHECK(invalid >= 40);
}

TEST_CASE("response message table: whole, byte by byte, every split agree") {
  for (const Fixture& f : kResponses) {
    SUBCASE(f.name) {
      checkFixture(f, Direction{true, Method::kGet});
    }
  }
}

TEST_CASE("response framing depends on the request method") {
  const std::string_view bytes = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"sv;
  SUBCASE("HEAD: no body") {
    const Outcome o = runAllWays(bytes, ParseLimits{}, Direction{true, Method::kHead});
    CHECK(o.error == kOk);
    CHECK(o.kind == BodyKind::kNone);
    CHECK(o.consumed == bytes.size());
  }
  SUBCASE("CONNECT 2xx: no body, the tunnel starts") {
    const Outcome o = runAllWays("HTTP/1.1 200 Connection established\r\n\r\n"sv, ParseLimits{},
                                 Direction{true, Method::kConnect});
    CHECK(o.error == kOk);
    CHECK(o.kind == BodyKind::kNone);
  }
  SUBCASE("CONNECT 407: body as usual") {
    const Outcome o = runAllWays("HTTP/1.1 407 Auth\r\nContent-Length: 1\r\n\r\nx"sv, ParseLimits{},
                                 Direction{true, Method::kConnect});
    CHECK(o.error == kOk);
    CHECK(o.kind == BodyKind::kContentLength);
    CHECK(o.body == "x");
  }
}

TEST_CASE("limits: 414 and 431 agree across feedings") {
  ParseLimits limits;
  limits.maxRequestLine = 32;
  limits.maxHeaderBytes = 96;
  limits.maxHeaderCount = 3;
  struct Row {
    const char* name;
    std::string bytes;
    int expect;
  };
  const Row rows[] = {
      {"request line at the limit", "GET /" + std::string(16, 'a') + " HTTP/1.1\r\n\r\n", kOk},
      {"request line one over", "GET /" + std::string(17, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"long line without end yet", "GET /" + std::string(40, 'a'), 414},
      {"garbage before the limit wins", "GET /a\x01" + std::string(40, 'a'), 400},
      {"head over the limit", "GET / HTTP/1.1\r\nX: " + std::string(80, 'b') + "\r\n\r\n", 431},
      {"head over the limit, no end yet", "GET / HTTP/1.1\r\nX: " + std::string(90, 'b'), 431},
      {"run of bare CRs", std::string(100, '\r'), 400},
      {"three fields fine", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", kOk},
      {"four fields too many", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name) {
      const Outcome o = runAllWays(r.bytes, limits, Direction{});
      CHECK(o.error == r.expect);
    }
  }
  SUBCASE("empty lines count toward the head size") {
    std::string crlfs;
    for (int i = 0; i < 60; ++i) crlfs += "\r\n";
    CHECK(runAllWays(crlfs, limits, Direction{}).error == 431);
  }
  SUBCASE("response head over the limit is 502") {
    const std::string bytes = "HTTP/1.1 200 OK\r\nX: " + std::string(100, 'b');
    CHECK(runAllWays(bytes, limits, Direction{true, Method::kGet}).error == 502);
  }
}
