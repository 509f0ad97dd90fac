#include "daemon/proxy/forwarding.h"

#include <doctest/doctest.h>

#include "daemon/http/head_parser.h"
#include "daemon/proxy/error_page.h"

using namespace portcullis;
using namespace portcullis::proxy;

namespace {
http::RequestHead parseRequest(std::string_view text) {
  http::RequestHead head;
  auto outcome = http::parseRequestHead(text, http::ParseLimits{}, head);
  REQUIRE(outcome.status == http::ParseStatus::kDone);
  return head;
}

http::ResponseHead parseResponse(std::string_view text) {
  http::ResponseHead head;
  auto outcome = http::parseResponseHead(text, http::ParseLimits{}, head);
  REQUIRE(outcome.status == http::ParseStatus::kDone);
  return head;
}
}  // namespace

TEST_CASE("upstream request: origin-form, Host from URI, hop-by-hop gone, Via added") {
  auto req = parseRequest(
      "GET http://Example.ORG:8080/a?b=1 HTTP/1.1\r\nHost: evil.example\r\n"
      "Connection: X-Private, close\r\nX-Private: secret\r\nProxy-Connection: keep-alive\r\n"
      "Keep-Alive: 300\r\nTE: trailers\r\nUpgrade: websocket\r\n"
      "Proxy-Authorization: Basic eA==\r\nVia: 1.0 upstream-cache\r\nAccept: */*\r\n\r\n");
  auto target = http::parseAbsoluteForm(req.target);
  REQUIRE(target.ok());
  auto out = buildUpstreamRequest(req, *target, BodyEncoding::kNone, 0, "portcullis");
  CHECK(out.rfind("GET /a?b=1 HTTP/1.1\r\nHost: example.org:8080\r\n", 0) == 0);
  for (auto gone : {"evil.example", "X-Private", "Proxy-Connection", "Keep-Alive", "TE:",
                    "Upgrade", "Proxy-Authorization", "Connection"}) {
    CAPTURE(gone);
    CHECK(out.find(gone) == std::string::npos);
  }
  CHECK(out.find("Via: 1.0 upstream-cache, 1.1 portcullis\r\n") != std::string::npos);
  CHECK(out.find("Accept: */*\r\n") != std::string::npos);
}

TEST_CASE("upstream request framing is restated") {
  auto req = parseRequest(
      "POST http://h/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  auto target = http::parseAbsoluteForm(req.target);
  REQUIRE(target.ok());
  auto chunked = buildUpstreamRequest(req, *target, BodyEncoding::kChunked, 0, "p");
  CHECK(chunked.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  auto cl = buildUpstreamRequest(req, *target, BodyEncoding::kContentLength, 42, "p");
  CHECK(cl.find("Content-Length: 42\r\n") != std::string::npos);
  CHECK(cl.find("Transfer-Encoding") == std::string::npos);
}

TEST_CASE("Max-Forwards is decremented for OPTIONS and exhausted at zero") {
  auto req = parseRequest("OPTIONS http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 3\r\n\r\n");
  auto target = http::parseAbsoluteForm(req.target);
  REQUIRE(target.ok());
  CHECK_FALSE(maxForwardsExhausted(req));
  CHECK(buildUpstreamRequest(req, *target, BodyEncoding::kNone, 0, "p").find("Max-Forwards: 2\r\n") !=
        std::string::npos);
  CHECK(maxForwardsExhausted(
      parseRequest("TRACE http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n")));
  CHECK_FALSE(maxForwardsExhausted(
      parseRequest("GET http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n")));
}

TEST_CASE("Via loop detection matches our pseudonym as received-by only") {
  struct Case {
    const char* via;
    bool loops;
  };
  for (auto c : {Case{"1.1 portcullis", true}, Case{"1.0 a, 1.1 PORTCULLIS (note)", true},
                 Case{"1.1 portcullis-other", false}, Case{"1.1 a", false},
                 Case{"HTTP/1.1 portcullis", true}}) {
    CAPTURE(c.via);
    http::HeaderMap h;
    h.add("Via", c.via);
    CHECK(viaNamesUs(h, "portcullis") == c.loops);
  }
}

TEST_CASE("client body encoding by upstream framing and client version") {
  using http::BodyKind;
  CHECK(clientBodyEncoding({BodyKind::kChunked, 0}, 1) == BodyEncoding::kChunked);
  CHECK(clientBodyEncoding({BodyKind::kChunked, 0}, 0) == BodyEncoding::kUntilClose);
  CHECK(clientBodyEncoding({BodyKind::kUntilClose, 0}, 1) == BodyEncoding::kChunked);
  CHECK(clientBodyEncoding({BodyKind::kContentLength, 5}, 0) == BodyEncoding::kContentLength);
  CHECK(clientBodyEncoding({BodyKind::kNone, 0}, 1) == BodyEncoding::kNone);
}

TEST_CASE("keep-alive decisions") {
  CHECK(clientWantsKeepAlive(parseRequest("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n")));
  CHECK_FALSE(clientWantsKeepAlive(
      parseRequest("GET http://h/ HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n")));
  CHECK_FALSE(clientWantsKeepAlive(parseRequest("GET http://h/ HTTP/1.0\r\n\r\n")));
  auto r11 = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
  CHECK(upstreamReusable(r11, {http::BodyKind::kContentLength, 1}));
  CHECK_FALSE(upstreamReusable(r11, {http::BodyKind::kUntilClose, 0}));
  auto r10 = parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
  CHECK_FALSE(upstreamReusable(r10, {http::BodyKind::kContentLength, 1}));
}

TEST_CASE("client response: hop-by-hop removed, Via and framing set") {
  auto resp = parseResponse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: X-Y\r\nX-Y: 1\r\n"
      "Content-Type: text/plain\r\n\r\n");
  auto out = buildClientResponse(resp, BodyEncoding::kUntilClose, 0, true, "portcullis");
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(out.find("Transfer-Encoding") == std::string::npos);
  CHECK(out.find("X-Y") == std::string::npos);
  CHECK(out.find("Via: 1.1 portcullis\r\n") != std::string::npos);
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
}
