// Scenarios of fills that finish without their client (cache.fill_after_abort,
// background_fill.h): the leader's client leaves mid-body and the fill goes on.

#include <cstdio>
#include <string>
#include <vector>

#include "tests/unit/proxy/exchange_scenarios.h"
#include "tests/unit/proxy/exchange_scenarios_fill.h"
#include "tests/unit/proxy/exchange_scenarios_util.h"

namespace portcullis::testing {

using namespace std::chrono_literals;
using T = proxy::Termination;

HarnessOptions fillOptions(const std::string& fillAfterAbort) {
  HarnessOptions o;
  o.cache = true;
  o.cacheLines = "fill_after_abort = \"" + fillAfterAbort + "\"";
  return o;
}

std::string fillBody() {
  return std::string(1000, 'a') + std::string(500, 'b') + std::string(500, 'c');
}

std::string hexSize(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

void scriptThreeParts(ExchangeHarness& h, const std::string& path, bool chunked) {
  const std::string head = chunked ? "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n"
                                   : "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                                     "Content-Length: 2000\r\n\r\n";
  auto part = [&](char c, size_t n) {
    return chunked ? hexSize(n) + "\r\n" + std::string(n, c) + "\r\n" : std::string(n, c);
  };
  h.origin().on(path, OriginScript()
                          .write(head + part('a', 1000))
                          .awaitRelease()
                          .write(part('b', 500))
                          .awaitRelease()
                          .write(part('c', 500) + (chunked ? "0\r\n\r\n" : "")));
}

TestClient& leaderLeaves(ExchangeHarness& h, const std::string& path) {
  auto& leader = h.connect();
  leader.send(h.get(path));
  h.runUntil([&] { return leader.received().find(std::string(1000, 'a')) != std::string::npos; });
  leader.close();
  // The next part meets the closed socket (EPIPE): the client's exchange ends there.
  h.origin().release(path);
  h.runUntilRecordsOf(leader, 1);
  return leader;
}

namespace {

/// The leader's client leaves after the first part; the fill reads the
/// rest; a second client then gets every byte from the cache.
ScenarioResult fillFinishes() {
  ExchangeHarness h(fillOptions("1 KiB"));
  scriptThreeParts(h, "/update.bin", false);
  auto& leader = leaderLeaves(h, "/update.bin");
  h.origin().release("/update.bin");
  h.runUntilRecordsOf(leader, 2);  // the fill's own line
  auto& next = h.connect();
  next.send(h.get("/update.bin"));
  return collect(h, next);
}

}  // namespace

std::vector<Scenario> fillScenarios() {
  return {
      {"a fill finishes after its client left, then hits",
       T::kCompleted,
       200,
       {"fill:Idle", "fill:Filling", "fill:Done", "cache:Storing", "cache:Serving"},
       fillFinishes,
       log::CacheResult::kHit},
  };
}

}  // namespace portcullis::testing
