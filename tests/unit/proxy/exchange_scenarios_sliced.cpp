// Scenarios of sliced storage (SlicedFetch): a range miss that probes and
// stores a slice, the same range again from the stored slice, a client
// joining another client's slice fetch, and an origin that ignores Range.

#include <string>
#include <vector>

#include "tests/unit/proxy/exchange_scenarios.h"
#include "tests/unit/proxy/exchange_scenarios_util.h"

namespace portcullis::testing {

using T = proxy::Termination;

namespace {

constexpr size_t kSlice = 64 * 1024;
constexpr size_t kTotal = 3 * kSlice;

HarnessOptions withSlices() {
  HarnessOptions o;
  o.cache = true;
  o.cacheLines = "slice_size = \"64 KiB\"\nrange_fetch_whole_max = \"1 KiB\"\n";
  return o;
}

std::string sliceBody(size_t index) {
  return std::string(kSlice, static_cast<char>('a' + index));
}

/// The origin's 206 head for slice `index` of the object, version "v1".
std::string sliceHead(size_t index) {
  const size_t first = index * kSlice;
  return "HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nCache-Control: max-age=60\r\n"
         "Content-Range: bytes " +
         std::to_string(first) + "-" + std::to_string(first + kSlice - 1) + "/" +
         std::to_string(kTotal) + "\r\nContent-Length: " + std::to_string(kSlice) + "\r\n\r\n";
}

/// Ten bytes inside slice `index`, as a Range field.
std::string rangeIn(size_t index) {
  const size_t first = index * kSlice + 100;
  return "Range: bytes=" + std::to_string(first) + "-" + std::to_string(first + 9) + "\r\n";
}

ScenarioResult slicedMissThenHit() {
  ExchangeHarness h(withSlices());
  h.origin().on("/big", OriginScript().write(sliceHead(1) + sliceBody(1)));
  auto& client = h.connect();
  client.send(h.get("/big", rangeIn(1)));  // unknown object: the probe stores slice 1
  collect(h, client);
  client.clearReceived();
  client.send(h.get("/big", rangeIn(1)));  // from the stored slice
  return collect(h, client, 2);
}

ScenarioResult slicedJoined() {
  ExchangeHarness h(withSlices());
  h.origin().on("/big", OriginScript().write(sliceHead(1) + sliceBody(1)));
  auto& leader = h.connect();
  leader.send(h.get("/big", rangeIn(1)));  // the object is now known
  collect(h, leader);
  // Slice 2: half of it, then held until released.
  const std::string half(kSlice / 2, 'c');
  h.origin().on("/big", OriginScript().write(sliceHead(2) + half).awaitRelease().write(half));
  leader.clearReceived();
  leader.send(h.get("/big", rangeIn(2)));
  h.runUntil([&] { return leader.received().find("cccccccccc") != std::string::npos; });
  auto& joiner = h.connect();
  joiner.send(h.get("/big", rangeIn(2)));  // reads the leader's growing slice
  h.runUntilRecordsOf(joiner, 1);
  h.origin().release("/big");
  h.runUntilRecordsOf(leader, 2);
  return collect(h, joiner);
}

ScenarioResult rangesIgnored() {
  ExchangeHarness h(withSlices());
  h.origin().on("/plain", OriginScript::respond(200, std::string(5000, 'p'), {{"ETag", "\"v1\""}}));
  return oneRequest(h, h.get("/plain", "Range: bytes=2000-2009\r\n"));
}

}  // namespace

std::vector<Scenario> slicedScenarios() {
  return {
      {"a range miss probes and stores a slice; the same range again is a hit",
       T::kCompleted,
       206,
       {"exchange:Sliced", "sliced:Probing", "sliced:Fetching", "sliced:Reading", "sliced:Done"},
       slicedMissThenHit,
       log::CacheResult::kHit},
      {"a client joins another client's slice fetch",
       T::kCompleted,
       206,
       {"sliced:Joined", "sliced:Reading"},
       slicedJoined,
       log::CacheResult::kHit},
      {"an origin that ignores Range: the ordinary path",
       T::kCompleted,
       200,
       {"sliced:Probing", "sliced:Done", "exchange:Sliced", "exchange:Fetching"},
       rangesIgnored,
       log::CacheResult::kMiss},
  };
}

}  // namespace portcullis::testing
