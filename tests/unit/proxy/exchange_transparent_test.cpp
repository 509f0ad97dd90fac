// Transparent mode in-process: what the access record says, and that only
// the original destination is ever connected to, whatever Host resolves to.

#include <doctest/doctest.h>

#include "tests/unit/proxy/exchange_scenarios_util.h"

using namespace portcullis;
using namespace portcullis::testing;

namespace {
proxy::TransparentDestination destination(std::string_view ip, uint16_t port, bool tls = false) {
  return proxy::TransparentDestination{*acl::IpAddress::parse(ip), port, tls};
}
}  // namespace

TEST_CASE("transparent: an agreeing Host is fetched and logged as transparent") {
  ExchangeHarness h;
  h.origin().on("/t?q=1", OriginScript::respond(200, "hello"));
  const std::string port = std::to_string(h.origin().port());
  auto& client = h.connect(destination("127.0.0.1", h.origin().port()));
  client.send("GET /t?q=1 HTTP/1.1\r\nHost: origin.test:" + port + "\r\n\r\n");
  const ScenarioResult r = collect(h, client);
  REQUIRE(r.record.has_value());
  CHECK(r.clientStatus == 200);
  CHECK(r.record->mode == "transparent");
  CHECK(r.record->url == "http://origin.test:" + port + "/t?q=1");
  CHECK(r.record->upstream == "127.0.0.1:" + port);
  CHECK(r.record->rule == "local-to-origin");
}

TEST_CASE("transparent: only the original destination is connected to") {
  ExchangeHarness h;
  const std::string port = std::to_string(h.origin().port());
  // The name resolves to the origin and to the destination, where nothing
  // listens: a proxy that connected where Host points would get a 200.
  h.resolver().answer("two.test", {"127.0.0.1", "127.0.0.3"});
  auto& client = h.connect(destination("127.0.0.3", h.origin().port()));
  client.send("GET / HTTP/1.1\r\nHost: two.test:" + port + "\r\n\r\n");
  const ScenarioResult r = collect(h, client);
  REQUIRE(r.record.has_value());
  CHECK(r.clientStatus == 502);
  CHECK(r.record->termination == "connect_refused");
  CHECK(h.origin().requests().empty());
}

TEST_CASE("transparent: a mismatch is a deny by a hard rule") {
  ExchangeHarness h;
  const std::string port = std::to_string(h.origin().port());
  auto& client = h.connect(destination("127.0.0.1", h.origin().port()));
  client.send("GET /x HTTP/1.1\r\nHost: meta.named.test:" + port + "\r\n\r\n");
  const ScenarioResult r = collect(h, client);
  REQUIRE(r.record.has_value());
  CHECK(r.clientStatus == 409);
  CHECK(r.record->decision == log::AccessDecision::kDeny);
  CHECK(r.record->rule == "hard:transparent-host-mismatch");
  CHECK(r.record->mode == "transparent");
  CHECK(r.received.find("Proxy-Status: portcullis; error=http_request_denied") !=
        std::string::npos);
}

TEST_CASE("transparent: port 25 is refused by the hard rule, not relayed") {
  ExchangeHarness h;
  auto& client = h.connect(destination("127.0.0.1", 25));
  client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n");
  const ScenarioResult r = collect(h, client);
  REQUIRE(r.record.has_value());
  CHECK(r.clientStatus == 403);
  CHECK(r.record->rule == "hard:port-25");
}

TEST_CASE("transparent TLS: bytes that are not a ClientHello are closed without an answer") {
  ExchangeHarness h;
  auto& client = h.connect(destination("127.0.0.1", 443, true));
  client.send("GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n");
  const ScenarioResult r = collect(h, client);
  REQUIRE(r.record.has_value());
  CHECK(r.clientClosed);
  CHECK(r.received.empty());  // no HTTP answer into a TLS stream
  CHECK(r.record->decision == log::AccessDecision::kDeny);
  CHECK(r.record->rule == "hard:transparent-not-tls");
  CHECK(r.record->mode == "transparent");
  CHECK(r.record->url == "127.0.0.1:443");
}

namespace {
void put16(std::string& out, size_t v) {
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

/// A minimal TLS 1.3 ClientHello in one record asking for `sni`.
std::string clientHello(const std::string& sni) {
  std::string ext;
  put16(ext, 0);  // server_name (RFC 6066 §3)
  put16(ext, sni.size() + 5);
  put16(ext, sni.size() + 3);
  ext += '\0';  // host_name
  put16(ext, sni.size());
  ext += sni;
  std::string body("\x03\x03", 2);
  body += std::string(32, 'r');                // random
  body += '\0';                                // legacy_session_id
  body += std::string("\x00\x02\x13\x01", 4);  // cipher_suites: TLS_AES_128_GCM_SHA256
  body += std::string("\x01\x00", 2);          // legacy_compression_methods: null
  put16(body, ext.size());
  body += ext;
  std::string handshake("\x01", 1);
  handshake += static_cast<char>(0);
  put16(handshake, body.size());
  handshake += body;
  std::string record("\x16\x03\x01", 3);
  put16(record, handshake.size());
  return record + handshake;
}
}  // namespace

TEST_CASE("transparent TLS: an allowed SNI at its own address is spliced, hello first") {
  ExchangeHarness h;
  h.resolver().answer("tls.named.test", {"127.0.0.1"});
  auto& client = h.connect(destination("127.0.0.1", h.origin().port(), true));
  const std::string hello = clientHello("tls.named.test");
  // Drip-fed: the connection waits for the whole ClientHello.
  client.send(hello.substr(0, 7));
  h.runUntil([&] { return false; }, std::chrono::milliseconds(20));
  CHECK(h.records().empty());
  client.send(hello.substr(7));
  // The origin (an HTTP server, waiting for a head that never comes) is
  // connected to; the client gets no "200 Connection established".
  CHECK(h.runUntil([&] { return h.origin().connections() == 1; }));
  CHECK(h.runUntil([&] { return h.records().size() == 1; }, std::chrono::milliseconds(50)) ==
        false);
  CHECK(client.received().empty());
  client.close();
  CHECK(h.runUntilRecords(1));
  const ScenarioResult r = collect(h, client);
  REQUIRE(r.record.has_value());
  CHECK(r.record->method == "CONNECT");
  CHECK(r.record->url == "tls.named.test:" + std::to_string(h.origin().port()));
  CHECK(r.record->mode == "transparent");
  CHECK(r.record->rule == "local-to-origin");
  CHECK(r.record->upstream == "127.0.0.1:" + std::to_string(h.origin().port()));
  CHECK(r.record->bytesIn >= hello.size());
}

TEST_CASE("transparent TLS: refusals close without a byte") {
  struct Case {
    const char* name;
    std::string sni;
    const char* resolvesTo;
    const char* rule;
  };
  const Case cases[] = {
      {"a blocked SNI", "blocked.test", "127.0.0.1", "no-blocked"},
      {"an SNI that resolves elsewhere", "far.named.test", "127.0.0.9",
       "hard:transparent-sni-mismatch"},
      {"no SNI", "", "127.0.0.1", "hard:transparent-no-sni"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      ExchangeHarness h;
      if (!c.sni.empty()) h.resolver().answer(c.sni, {c.resolvesTo});
      auto& client = h.connect(destination("127.0.0.1", 443, true));
      std::string hello = clientHello(c.sni.empty() ? "x" : c.sni);
      if (c.sni.empty()) {
        // Without the server_name extension: an empty extensions block.
        hello = clientHello("x");
        const size_t extStart = 5 + 4 + 2 + 32 + 1 + 4 + 2;
        std::string body = hello.substr(9, extStart - 9);
        body += std::string("\x00\x00", 2);
        std::string hs("\x01\x00", 2);
        put16(hs, body.size());
        hello = std::string("\x16\x03\x01", 3);
        put16(hello, hs.size() + body.size());
        hello += hs + body;
      }
      client.send(hello);
      const ScenarioResult r = collect(h, client);
      REQUIRE(r.record.has_value());
      CHECK(r.clientClosed);
      CHECK(r.received.empty());
      CHECK(r.record->decision == log::AccessDecision::kDeny);
      CHECK(r.record->rule == c.rule);
      CHECK(h.origin().requests().empty());
    }
  }
}
