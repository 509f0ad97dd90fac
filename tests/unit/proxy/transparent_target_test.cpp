// Transparent mode's pure decisions: which target a redirected request
// names, and whether it agrees with where the kernel says it was going.

#include "daemon/proxy/transparent_target.h"

#include <doctest/doctest.h>

#include "daemon/http/head_parser.h"

using namespace portcullis;
using namespace portcullis::proxy;

namespace {
http::RequestHead parse(std::string_view text) {
  http::RequestHead head;
  auto outcome = http::parseRequestHead(text, http::ParseLimits{}, head);
  REQUIRE(outcome.status == http::ParseStatus::kDone);
  return head;
}

TransparentDestination dst(std::string_view ip, uint16_t port) {
  return TransparentDestination{*acl::IpAddress::parse(ip), port, false};
}

acl::IpAddress ip(std::string_view text) {
  return *acl::IpAddress::parse(text);
}
}  // namespace

TEST_CASE("transparent target: Host and path make the URL; a name is left to DNS") {
  struct Case {
    const char* request;
    const char* url;  // normalizedUri()
    bool ipLiteral;
  };
  const Case cases[] = {
      {"GET /a?b=1 HTTP/1.1\r\nHost: Example.ORG\r\n\r\n", "http://example.org/a?b=1", false},
      {"GET / HTTP/1.1\r\nHost: example.org:80\r\n\r\n", "http://example.org/", false},
      {"GET /x HTTP/1.1\r\nHost: 198.51.100.10\r\n\r\n", "http://198.51.100.10/x", true},
      // RFC 9112 §3.2.2: an absolute-form target's authority wins over Host.
      {"GET http://example.org/y HTTP/1.1\r\nHost: other.example\r\n\r\n", "http://example.org/y",
       false},
      // HTTP/1.0 without Host: the destination's own address is the name.
      {"GET /old HTTP/1.0\r\n\r\n", "http://198.51.100.10/old", true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.request);
    auto t = transparentHttpTarget(parse(c.request), dst("198.51.100.10", 80));
    REQUIRE(t.ok());
    CHECK(t->normalizedUri() == c.url);
    CHECK(t->port == 80);
    CHECK(t->hostIsIpLiteral == c.ipLiteral);
  }
}

TEST_CASE("transparent target: a Host naming another place is a 409 mismatch") {
  struct Case {
    const char* request;
    const char* destination;
    uint16_t port;
  };
  const Case cases[] = {
      // Another address than the one the client was going to.
      {"GET / HTTP/1.1\r\nHost: 203.0.113.5\r\n\r\n", "198.51.100.10", 80},
      {"GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n", "198.51.100.10", 80},
      {"GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n", "2001:db8::2", 80},
      // Another port: the destination's is the only one we would connect to.
      {"GET / HTTP/1.1\r\nHost: example.org:8080\r\n\r\n", "198.51.100.10", 80},
      {"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", "198.51.100.10", 8080},
      {"GET http://198.51.100.11/ HTTP/1.1\r\nHost: 198.51.100.10\r\n\r\n", "198.51.100.10", 80},
  };
  for (const auto& c : cases) {
    CAPTURE(c.request);
    CAPTURE(c.destination);
    auto t = transparentHttpTarget(parse(c.request), dst(c.destination, c.port));
    REQUIRE(!t.ok());
    CHECK(t.error().status == 409);
  }
}

TEST_CASE("transparent target: malformed requests are 400, not a mismatch") {
  const char* cases[] = {
      "GET / HTTP/1.1\r\n\r\n",                                          // HTTP/1.1 without Host
      "GET https://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n",  // not http
      "GET * HTTP/1.1\r\nHost: example.org\r\n\r\n",
  };
  for (const char* request : cases) {
    CAPTURE(request);
    auto t = transparentHttpTarget(parse(request), dst("198.51.100.10", 80));
    REQUIRE(!t.ok());
    CHECK(t.error().status == 400);
  }
  http::RequestHead head = parse("GET /p HTTP/1.1\r\nHost: a.example\r\n\r\n");
  head.headers.remove("Host");
  head.headers.add("Host", "a.example/evil");  // never spliced into the path
  auto t = transparentHttpTarget(head, dst("198.51.100.10", 80));
  REQUIRE(!t.ok());
  CHECK(t.error().status == 400);
}

TEST_CASE("transparent target: the destination must be among the name's addresses") {
  const std::vector<acl::IpAddress> resolved = {ip("192.0.2.1"), ip("198.51.100.10"),
                                                ip("2001:db8::1")};
  CHECK(agreesWith(ip("198.51.100.10"), resolved));
  CHECK(agreesWith(ip("2001:db8::1"), resolved));
  CHECK(agreesWith(ip("::ffff:198.51.100.10"), resolved));  // v4-mapped is the same host
  CHECK(!agreesWith(ip("198.51.100.11"), resolved));
  CHECK(!agreesWith(ip("198.51.100.10"), {}));
}

TEST_CASE("transparent destination: authority text") {
  CHECK(dst("198.51.100.10", 80).authority() == "198.51.100.10:80");
  CHECK(dst("2001:db8::1", 443).authority() == "[2001:db8::1]:443");
}
