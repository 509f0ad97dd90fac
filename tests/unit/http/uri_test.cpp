#include "daemon/http/uri.h"

#include <doctest/doctest.h>

#include <string>

using namespace portcullis::http;

TEST_CASE("parseAbsoluteForm table") {
  struct Row {
    const char* in;
    bool ok;
    const char* scheme = "";
    const char* host = "";
    uint16_t port = 0;
    const char* path = "";
    const char* hostHeader = "";
    const char* normalized = "";
  };
  const Row rows[] = {
      {"http://example.com/", true, "http", "example.com", 80, "/", "example.com",
       "http://example.com/"},
      {"HTTP://Example.COM", true, "http", "example.com", 80, "/", "example.com",
       "http://example.com/"},
      {"http://example.com?q=1", true, "http", "example.com", 80, "/?q=1", "example.com",
       "http://example.com/?q=1"},
      {"http://example.com:8080/a/b?c=%20d", true, "http", "example.com", 8080, "/a/b?c=%20d",
       "example.com:8080", "http://example.com:8080/a/b?c=%20d"},
      {"http://example.com:80/x", true, "http", "example.com", 80, "/x", "example.com",
       "http://example.com/x"},
      {"https://example.com/x", true, "https", "example.com", 443, "/x", "example.com",
       "https://example.com/x"},
      {"https://example.com:80/", true, "https", "example.com", 80, "/", "example.com:80",
       "https://example.com:80/"},
      {"http://192.0.2.1:81/", true, "http", "192.0.2.1", 81, "/", "192.0.2.1:81",
       "http://192.0.2.1:81/"},
      {"http://[2001:DB8::1]/", true, "http", "2001:db8::1", 80, "/", "[2001:db8::1]",
       "http://[2001:db8::1]/"},
      {"http://[2001:db8:0:0:0:0:0:1]:8080/p", true, "http", "2001:db8::1", 8080, "/p",
       "[2001:db8::1]:8080", "http://[2001:db8::1]:8080/p"},
      {"http://[::ffff:192.0.2.1]/", true, "http", "::ffff:192.0.2.1", 80, "/",
       "[::ffff:192.0.2.1]", "http://[::ffff:192.0.2.1]/"},
      {"http://my_host.example./", true, "http", "my_host.example.", 80, "/", "my_host.example.",
       "http://my_host.example./"},
      {"http://localhost:65535", true, "http", "localhost", 65535, "/", "localhost:65535",
       "http://localhost:65535/"},
      {"http://a.example/%2e%2e/x", true, "http", "a.example", 80, "/%2e%2e/x", "a.example",
       "http://a.example/%2e%2e/x"},
      // refused
      {"http://user@example.com/", false},
      {"http://user:pw@example.com/", false},
      {"http://example.com/#frag", false},
      {"http://example.com#", false},
      {"http:///path", false},
      {"http://:80/", false},
      {"http://example.com:0/", false},
      {"http://example.com:65536/", false},
      {"http://example.com:99999/", false},
      {"http://example.com:8a/", false},
      {"http://example.com:/", false},
      {"http://example.com:-1/", false},
      {"http://exa%6dple.com/", false},
      {"http://exa mple.com/", false},
      {"http://example.com\x01/", false},
      {"http://ex\xc3\xa4mple.com/", false},
      {"http://a,b.example/", false},
      {"http://a!b.example/", false},
      {"http://a..example/", false},
      {"http://.example/", false},
      {"http://1.2.3/", false},
      {"http://1.2.3.4.5/", false},
      {"http://256.1.1.1/", false},
      {"http://010.0.0.1/", false},
      {"http://127.0.0.0x1/", false},
      {"http://example.123/", false},
      {"http://[2001:db8::1/", false},
      {"http://[2001:db8::1]x/", false},
      {"http://[fe80::1%25eth0]/", false},
      {"http://[v1.x]/", false},
      {"http://[1.2.3.4]/", false},
      {"http://[]/", false},
      {"ftp://example.com/", false},
      {"httpx://example.com/", false},
      {"//example.com/", false},
      {"/relative", false},
      {"http:/example.com", false},
      {"", false},
  };
  for (const Row& r : rows) {
    SUBCASE(r.in) {
      const auto t = parseAbsoluteForm(r.in);
      REQUIRE(t.ok() == r.ok);
      if (!r.ok) {
        CHECK(t.error().status == 400);
        continue;
      }
      CHECK(t->scheme == r.scheme);
      CHECK(t->host == r.host);
      CHECK(t->port == r.port);
      CHECK(t->pathAndQuery == r.path);
      CHECK(t->hostHeaderValue() == r.hostHeader);
      CHECK(t->normalizedUri() == r.normalized);
    }
  }
}

TEST_CASE("parseAbsoluteForm flags and authority") {
  auto v4 = parseAbsoluteForm("http://10.0.0.1/");
  REQUIRE(v4.ok());
  CHECK(v4->hostIsIpLiteral);
  CHECK_FALSE(v4->hostIsIpv6);
  CHECK(v4->authority() == "10.0.0.1:80");
  auto v6 = parseAbsoluteForm("http://[::1]:81/");
  REQUIRE(v6.ok());
  CHECK(v6->hostIsIpLiteral);
  CHECK(v6->hostIsIpv6);
  CHECK(v6->authority() == "[::1]:81");
  auto name = parseAbsoluteForm("http://Example.com/");
  REQUIRE(name.ok());
  CHECK_FALSE(name->hostIsIpLiteral);
  CHECK(name->authority() == "example.com:80");
}

TEST_CASE("parseAuthorityForm table") {
  struct Row {
    const char* in;
    bool ok;
    const char* host = "";
    uint16_t port = 0;
    const char* authority = "";
  };
  const Row rows[] = {
      {"example.com:443", true, "example.com", 443, "example.com:443"},
      {"EXAMPLE.com:8443", true, "example.com", 8443, "example.com:8443"},
      {"192.0.2.7:22", true, "192.0.2.7", 22, "192.0.2.7:22"},
      {"[2001:db8::7]:443", true, "2001:db8::7", 443, "[2001:db8::7]:443"},
      {"example.com", false},
      {"example.com:", false},
      {"example.com:0", false},
      {"example.com:65536", false},
      {"example.com:443/", false},
      {"http://example.com:443", false},
      {"user@example.com:443", false},
      {"[2001:db8::7]", false},
      {"2001:db8::7:443", false},
      {":443", false},
      {"exa%6dple.com:443", false},
  };
  for (const Row& r : rows) {
    SUBCASE(r.in) {
      const auto t = parseAuthorityForm(r.in);
      REQUIRE(t.ok() == r.ok);
      if (!r.ok) continue;
      CHECK(t->scheme.empty());
      CHECK(t->host == r.host);
      CHECK(t->port == r.port);
      CHECK(t->authority() == r.authority);
      CHECK(t->hostHeaderValue() == r.authority);
    }
  }
}
