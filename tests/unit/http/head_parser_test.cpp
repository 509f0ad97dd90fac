#include "daemon/http/head_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "daemon/http/framing.h"

using namespace std::string_view_literals;
using namespace portcullis::http;

TEST_CASE("request head: fields, method and version are filled in") {
  const std::string_view bytes =
      "\r\nPOST http://a.example/up?x=1 HTTP/1.1\r\nHost: a.example\r\nExpect:  100-continue \r\n"
      "Content-Length: 3\r\nX-Empty:\r\nConnection: keep-alive, Upgrade\r\n\r\nabc"sv;
  RequestHead head;
  const ParseOutcome o = parseRequestHead(bytes, ParseLimits{}, head);
  REQUIRE(o.status == ParseStatus::kDone);
  CHECK(o.consumed == bytes.size() - 3);
  CHECK(head.method == "POST");
  CHECK(head.methodKind == Method::kPost);
  CHECK(head.target == "http://a.example/up?x=1");
  CHECK(head.versionMinor == 1);
  REQUIRE(head.headers.size() == 5);
  CHECK(head.headers.fields()[1].name == "Expect");
  CHECK(head.headers.get("expect") == "100-continue");
  CHECK(head.headers.hasToken("Expect", "100-CONTINUE"));
  CHECK(head.headers.get("X-Empty") == "");
  CHECK(head.headers.hasToken("connection", "upgrade"));
  const auto framing = requestFraming(head);
  REQUIRE(framing.ok());
  CHECK(framing->kind == BodyKind::kContentLength);
  CHECK(framing->length == 3);
}

TEST_CASE("request head: reused output is replaced, not appended to") {
  RequestHead head;
  REQUIRE(
      parseRequestHead("GET /a HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n"sv, ParseLimits{}, head).status ==
      ParseStatus::kDone);
  REQUIRE(parseRequestHead("HEAD /b HTTP/1.0\r\nC: 3\r\n\r\n"sv, ParseLimits{}, head).status ==
          ParseStatus::kDone);
  CHECK(head.method == "HEAD");
  CHECK(head.methodKind == Method::kHead);
  CHECK(head.target == "/b");
  CHECK(head.versionMinor == 0);
  REQUIRE(head.headers.size() == 1);
  CHECK(head.headers.get("C") == "3");
}

TEST_CASE("request head: pipelined requests in one buffer") {
  const std::string buf =
      "GET http://a/1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET http://a/2 HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET http://a/3 HTTP/1.1\r\nHo";
  std::string_view rest = buf;
  RequestHead head;
  for (const char* expected : {"http://a/1", "http://a/2"}) {
    const ParseOutcome o = parseRequestHead(rest, ParseLimits{}, head);
    REQUIRE(o.status == ParseStatus::kDone);
    CHECK(o.consumed == 36);
    CHECK(head.target == expected);
    rest.remove_prefix(o.consumed);
  }
  CHECK(parseRequestHead(rest, ParseLimits{}, head).status == ParseStatus::kNeedMore);
}

TEST_CASE("request head: method kinds") {
  struct Row {
    const char* token;
    Method kind;
  };
  const Row rows[] = {
      {"GET", Method::kGet},         {"HEAD", Method::kHead},     {"POST", Method::kPost},
      {"PUT", Method::kPut},         {"DELETE", Method::kDelete}, {"CONNECT", Method::kConnect},
      {"OPTIONS", Method::kOptions}, {"TRACE", Method::kTrace},   {"PATCH", Method::kPatch},
      {"get", Method::kOther},       {"BREW", Method::kOther}};
  for (const Row& r : rows) {
    SUBCASE(r.token) {
      CHECK(methodFromToken(r.token) == r.kind);
      RequestHead head;
      const std::string bytes = std::string(r.token) + " / HTTP/1.1\r\n\r\n";
      REQUIRE(parseRequestHead(bytes, ParseLimits{}, head).status == ParseStatus::kDone);
      CHECK(head.methodKind == r.kind);
    }
  }
}

TEST_CASE("request head: error offsets and reasons point at the offending byte") {
  RequestHead head;
  const ParseOutcome o =
      parseRequestHead("GET / HTTP/1.1\r\nHost : a\r\n\r\n"sv, ParseLimits{}, head);
  REQUIRE(o.status == ParseStatus::kInvalid);
  CHECK(o.errorStatus == 400);
  CHECK(o.errorOffset == 20);
  CHECK(o.reason == "whitespace between field name and colon");
}

TEST_CASE("request head: 414 as soon as the limit is passed without a line end") {
  ParseLimits limits;
  limits.maxRequestLine = 64;
  RequestHead head;
  std::string bytes = "GET /";
  bytes.append(59, 'a');
  CHECK(parseRequestHead(bytes, limits, head).status == ParseStatus::kNeedMore);
  bytes.push_back('a');  // 65 bytes, still no CRLF
  const ParseOutcome o = parseRequestHead(bytes, limits, head);
  REQUIRE(o.status == ParseStatus::kInvalid);
  CHECK(o.errorStatus == 414);
}

TEST_CASE("response head: status, reason, 1xx") {
  ResponseHead head;
  SUBCASE("reason with spaces") {
    const ParseOutcome o =
        parseResponseHead("HTTP/1.0 404 Not  Found \r\nServer: x\r\n\r\n"sv, ParseLimits{}, head);
    REQUIRE(o.status == ParseStatus::kDone);
    CHECK(head.versionMinor == 0);
    CHECK(head.status == 404);
    CHECK(head.reason == "Not  Found ");
    CHECK(head.headers.get("server") == "x");
  }
  SUBCASE("no reason, no SP") {
    REQUIRE(parseResponseHead("HTTP/1.1 200\r\n\r\n"sv, ParseLimits{}, head).status ==
            ParseStatus::kDone);
    CHECK(head.status == 200);
    CHECK(head.reason.empty());
  }
  SUBCASE("interim then final in one buffer") {
    const std::string_view bytes =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"sv;
    const ParseOutcome first = parseResponseHead(bytes, ParseLimits{}, head);
    REQUIRE(first.status == ParseStatus::kDone);
    CHECK(head.status == 100);
    CHECK(responseFraming(head, Method::kPost)->kind == BodyKind::kNone);
    const ParseOutcome second =
        parseResponseHead(bytes.substr(first.consumed), ParseLimits{}, head);
    REQUIRE(second.status == ParseStatus::kDone);
    CHECK(head.status == 201);
    CHECK(first.consumed + second.consumed == bytes.size());
  }
  SUBCASE("errors are 502") {
    const ParseOutcome o =
        parseResponseHead("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"sv, ParseLimits{}, head);
    REQUIRE(o.status == ParseStatus::kInvalid);
    CHECK(o.errorStatus == 502);
  }
}
