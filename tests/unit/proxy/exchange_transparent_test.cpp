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
