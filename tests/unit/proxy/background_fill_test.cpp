// Fills that finish without their client (cache.fill_after_abort): run
// in-process through the exchange harness with a scripted origin.

#include "daemon/proxy/background_fill.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/proxy/exchange_scenarios_fill.h"
#include "tests/unit/proxy/exchange_scenarios_util.h"

using namespace portcullis;
using namespace portcullis::testing;
using namespace std::chrono_literals;

namespace {

/// The records of `client`, in order.
std::vector<log::AccessRecord> recordsOf(ExchangeHarness& h, const TestClient& client) {
  std::vector<log::AccessRecord> out;
  for (const auto& r : h.records()) {
    if (r.client == client.peer()) out.push_back(r);
  }
  return out;
}

std::string bodyOf(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

}  // namespace

TEST_CASE("a fill whose client left finishes, logs its own line, and then hits") {
  ExchangeHarness h(fillOptions("1 KiB"));
  scriptThreeParts(h, "/update.bin", false);
  auto& leader = leaderLeaves(h, "/update.bin");
  CHECK(h.fills().active() == 1);
  CHECK(h.stats().snapshot(h.clock().systemNow()).backgroundFills == 1);
  h.origin().release("/update.bin");
  REQUIRE(h.runUntilRecordsOf(leader, 2));
  const auto lines = recordsOf(h, leader);
  CHECK(lines[0].termination == std::string_view("client_closed"));
  CHECK(lines[1].termination == std::string_view("fill_completed"));
  CHECK(lines[1].bytesOut == 0);
  CHECK(lines[1].upstreamBytes == 500);  // read after the client left
  CHECK(lines[0].upstreamBytes + lines[1].upstreamBytes >= 2000);
  REQUIRE(h.runUntil([&] { return h.fills().active() == 0; }));
  const auto s = h.stats().snapshot(h.clock().systemNow());
  CHECK(s.backgroundFills == 0);
  CHECK(s.backgroundFillOutcomes.at("fill_completed") == 1);

  auto& next = h.connect();
  next.send(h.get("/update.bin"));
  const auto r = collect(h, next);
  REQUIRE(r.record.has_value());
  CHECK(log::toString(r.record->cache) == log::toString(log::CacheResult::kHit));
  CHECK(bodyOf(r.received) == fillBody());
}

TEST_CASE("collapsed waiters keep streaming while the fill runs") {
  ExchangeHarness h(fillOptions("1 KiB"));
  scriptThreeParts(h, "/shared", false);
  auto& leader = h.connect();
  leader.send(h.get("/shared"));
  const std::string first(1000, 'a');
  h.runUntil([&] { return leader.received().find(first) != std::string::npos; });
  auto& waiter = h.connect();
  waiter.send(h.get("/shared"));
  h.runUntil([&] { return waiter.received().find(first) != std::string::npos; });
  leader.close();
  h.origin().release("/shared");
  REQUIRE(h.runUntilRecordsOf(leader, 1));
  CHECK(h.fills().active() == 1);
  h.origin().release("/shared");
  const auto r = collect(h, waiter);
  REQUIRE(r.record.has_value());
  CHECK(r.record->termination == std::string_view("completed"));
  CHECK(log::toString(r.record->cache) == log::toString(log::CacheResult::kCollapsed));
  CHECK(bodyOf(r.received) == fillBody());
  REQUIRE(h.runUntilRecordsOf(leader, 2));
  CHECK(recordsOf(h, leader)[1].termination == std::string_view("fill_completed"));
}

TEST_CASE("more left than fill_after_abort: aborted as before, nothing stored") {
  ExchangeHarness h(fillOptions("100 B"));  // 500 bytes are left when the client leaves
  scriptThreeParts(h, "/big.bin", false);
  auto& leader = leaderLeaves(h, "/big.bin");
  CHECK(h.fills().active() == 0);
  CHECK(!h.phases().reached("fill", "Filling"));
  CHECK(h.lastRecordOf(leader)->termination == std::string_view("client_closed"));
  CHECK(h.cache()->lookup(
            h.config().cache.rules->primaryKey(*http::parseAbsoluteForm(h.url("/big.bin"))),
            http::HeaderMap{}) == nullptr);
}

TEST_CASE("fill_after_abort = 0 turns it off, and a reload applies to the next abort") {
  ExchangeHarness h(fillOptions("1 KiB"));
  h.reloadCacheLines("fill_after_abort = \"0\"");
  scriptThreeParts(h, "/off.bin", false);
  leaderLeaves(h, "/off.bin");
  CHECK(h.fills().active() == 0);
  h.reloadCacheLines("fill_after_abort = \"1 KiB\"");
  scriptThreeParts(h, "/on.bin", false);
  leaderLeaves(h, "/on.bin");
  CHECK(h.fills().active() == 1);
}

TEST_CASE("without a Content-Length the fill stops after fill_after_abort more bytes") {
  ExchangeHarness h(fillOptions("400 B"));  // the last part (500) is over it
  scriptThreeParts(h, "/chunked.bin", true);
  auto& leader = leaderLeaves(h, "/chunked.bin");
  REQUIRE(h.fills().active() == 1);
  h.origin().release("/chunked.bin");
  REQUIRE(h.runUntilRecordsOf(leader, 2));
  CHECK(recordsOf(h, leader)[1].termination == std::string_view("fill_over_limit"));
  REQUIRE(h.runUntil([&] { return h.fills().active() == 0; }));
  auto& next = h.connect();
  next.send(h.get("/chunked.bin"));
  h.runUntil([&] { return next.received().find(std::string(1000, 'a')) != std::string::npos; });
  h.origin().release("/chunked.bin");
  h.runUntil([&] { return next.received().find(std::string(500, 'b')) != std::string::npos; });
  h.origin().release("/chunked.bin");
  const auto r = collect(h, next);
  REQUIRE(r.record.has_value());
  CHECK(log::toString(r.record->cache) ==
        log::toString(log::CacheResult::kMiss));  // nothing half-stored was kept
}

TEST_CASE("a chunked fill within the limit finishes") {
  ExchangeHarness h(fillOptions("1 KiB"));
  scriptThreeParts(h, "/chunked.bin", true);
  auto& leader = leaderLeaves(h, "/chunked.bin");
  h.origin().release("/chunked.bin");
  REQUIRE(h.runUntilRecordsOf(leader, 2));
  CHECK(recordsOf(h, leader)[1].termination == std::string_view("fill_completed"));
}

TEST_CASE("the origin breaking ends the fill, and shutdown stops the others") {
  ExchangeHarness h(fillOptions("1 KiB"));
  h.origin().on("/breaks", OriginScript()
                               .write("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                                      "Content-Length: 2000\r\n\r\n" +
                                      std::string(1000, 'a'))
                               .awaitRelease()
                               .write(std::string(500, 'b'))
                               .awaitRelease()
                               .close());
  auto& broken = leaderLeaves(h, "/breaks");
  scriptThreeParts(h, "/stopped", false);
  auto& stopped = leaderLeaves(h, "/stopped");
  REQUIRE(h.fills().active() == 2);
  h.origin().release("/breaks");
  REQUIRE(h.runUntilRecordsOf(broken, 2));
  CHECK(recordsOf(h, broken)[1].termination == std::string_view("fill_origin_broken"));
  h.fills().stopAll();
  REQUIRE(h.runUntilRecordsOf(stopped, 2));
  CHECK(recordsOf(h, stopped)[1].termination == std::string_view("fill_stopped"));
  REQUIRE(h.runUntil([&] { return h.fills().active() == 0; }));
  CHECK(h.stats().snapshot(h.clock().systemNow()).backgroundFills == 0);
}

TEST_CASE("at most the per-worker number of fills run at once") {
  ExchangeHarness h(fillOptions("1 KiB"));
  const size_t n = proxy::BackgroundFills::kMaxPerWorker + 1;
  for (size_t i = 0; i < n; ++i) {
    const std::string path = "/f" + std::to_string(i);
    scriptThreeParts(h, path, false);
    leaderLeaves(h, path);
  }
  CHECK(h.fills().active() == proxy::BackgroundFills::kMaxPerWorker);
}

TEST_CASE("a fill obeys body_timeout: an origin gone silent ends it") {
  HarnessOptions o = fillOptions("1 KiB");
  o.server = "body_timeout = \"200ms\"";
  ExchangeHarness h(o);
  h.origin().on("/silent", OriginScript()
                               .write("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                                      "Content-Length: 2000\r\n\r\n" +
                                      std::string(1000, 'a'))
                               .awaitRelease()
                               .write(std::string(500, 'b'))
                               .hold());
  auto& leader = leaderLeaves(h, "/silent");
  REQUIRE(h.fills().active() == 1);
  REQUIRE(h.runUntilRecordsOf(leader, 2, 3s));
  const auto fill = recordsOf(h, leader)[1];
  CHECK(fill.termination == std::string_view("fill_origin_broken"));
  CHECK(fill.error == "upstream body timeout");
  REQUIRE(h.runUntil([&] { return h.fills().active() == 0; }));
}
