// What the injected resolver and clock make testable in-process: lookups
// answered later or cancelled, a rate limit that refills only when the
// (fake) clock moves, a pooled upstream connection reused.

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "tests/unit/proxy/exchange_harness.h"
#include "tests/unit/proxy/exchange_scenarios_util.h"

using namespace portcullis;
using namespace portcullis::testing;
using namespace std::chrono_literals;

TEST_CASE("an answer the resolver delivers on a later loop turn is waited for") {
  ExchangeHarness h;
  h.resolver().answer("later.test", {"127.0.0.1"}, FakeResolver::Delivery::kNextTurn);
  h.origin().on("/ok", OriginScript::respond(200, "hello"));
  const std::string host = "later.test:" + std::to_string(h.origin().port());
  auto& client = h.connect();
  client.send("GET http://" + host + "/ok HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  const auto r = collect(h, client);
  CHECK(r.clientStatus == 200);
  CHECK(h.resolver().queries() == 1);
  CHECK(h.resolver().pending() == 0);
  CHECK(h.resolver().cancels() == 0);
}

TEST_CASE("a connection cut while its lookup is outstanding cancels the lookup") {
  ExchangeHarness h;
  h.resolver().answer("held.test", {"127.0.0.1"}, FakeResolver::Delivery::kHeld);
  const std::string host = "held.test:" + std::to_string(h.origin().port());
  auto& client = h.connect();
  client.send("GET http://" + host + "/ HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  REQUIRE(h.runUntil([&] { return h.resolver().pending() == 1; }));
  h.closeConnections();  // what the worker does when the shutdown grace expires
  CHECK(h.resolver().cancels() == 1);
  CHECK(h.resolver().pending() == 0);
  CHECK(h.liveConnections() == 0);
  // The answer arriving afterwards reaches no one.
  h.resolver().release("held.test");
  CHECK(!h.runUntil([&] { return h.records().size() > 1; }, 50ms));
}

TEST_CASE("the request-rate bucket refills only as the clock moves") {
  HarnessOptions o;
  o.extra = "[[limit]]\nname = \"slow\"\nfrom = \"local\"\nrequests_per_second = 1\nburst = 1\n";
  ExchangeHarness h(o);
  h.origin().on("/ok", OriginScript::respond(200, "hello"));
  auto& client = h.connect();
  auto next = [&](size_t n) {
    client.clearReceived();
    client.send(h.get("/ok"));
    return collect(h, client, n).clientStatus;
  };
  CHECK(next(1) == 200);
  CHECK(next(2) == 429);
  CHECK(next(3) == 429);  // real time passes, the fake clock does not
  h.clock().advance(1s);
  CHECK(next(4) == 200);
}

TEST_CASE("a keep-alive client's next request reuses the pooled origin connection") {
  ExchangeHarness h;
  h.origin().on("/a", OriginScript::respond(200, "first"));
  h.origin().on("/b", OriginScript::respond(200, "second"));
  auto& client = h.connect();
  client.send(h.get("/a"));
  CHECK(collect(h, client, 1).clientStatus == 200);
  client.clearReceived();
  client.send(h.get("/b"));
  const auto r = collect(h, client, 2);
  CHECK(r.clientStatus == 200);
  CHECK(r.received.find("second") != std::string::npos);
  CHECK(h.origin().connections() == 1);
  CHECK(h.origin().requests().size() == 2);
}
