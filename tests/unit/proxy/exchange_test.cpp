// The request path run in-process (issue #14): each scenario of the table
// in exchange_scenarios.cpp drives one exchange through a real ClientConnection with
// a fake resolver and clock, and must end with the termination kind it
// names, the status the client got and the phases it passed through.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "daemon/proxy/termination.h"
#include "tests/unit/proxy/exchange_scenarios.h"
#include "tests/unit/proxy/exchange_scenarios_util.h"

using namespace portcullis;
using namespace portcullis::testing;
using proxy::Termination;

namespace {
std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}
}  // namespace

TEST_CASE("every termination kind has a scenario") {
  for (size_t i = 0; i < proxy::kTerminationKinds; ++i) {
    const auto kind = static_cast<Termination>(i);
    CAPTURE(proxy::describe(kind).name);
    const auto& all = exchangeScenarios();
    CHECK(std::any_of(all.begin(), all.end(), [&](const Scenario& s) { return s.kind == kind; }));
  }
}

TEST_CASE("each exchange ends as its scenario says") {
  for (const auto& s : exchangeScenarios()) {
    SUBCASE(std::string(s.name).c_str()) {
      const ScenarioResult r = s.run();
      const std::string phases = joined(r.changes);
      CAPTURE(phases);
      CAPTURE(r.received);
      REQUIRE(r.record.has_value());
      CHECK(r.record->termination == proxy::describe(s.kind).name);
      CHECK(r.clientStatus == s.clientStatus);
      // A kind whose reply the table gives is what the client got and what
      // the log says (an exchange cut after its head keeps the head's status).
      const int tableStatus = proxy::describe(s.kind).status;
      if (tableStatus != 0) {
        CHECK(r.clientStatus == tableStatus);
        CHECK(r.record->status == tableStatus);
      }
      if (s.clientStatus == 0) CHECK(r.clientClosed);
      if (s.cache) CHECK(log::toString(r.record->cache) == log::toString(*s.cache));
      for (const auto& phase : s.phases) {
        CHECK_MESSAGE(r.phases.count(phase) == 1, "phase not reached: " << phase);
      }
    }
  }
}

TEST_CASE("the harness reads responses as a client would") {
  CHECK(finalStatus("HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\nHTTP/1.1 502 Bad\r\n\r\n") ==
        502);
  CHECK(finalStatus("HTTP/1.1 200 OK\r\n") == 200);
  CHECK(finalStatus("") == 0);
  CHECK(responseComplete("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"));
  CHECK(!responseComplete("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"));
  CHECK(responseComplete(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"));
  CHECK(!responseComplete("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nab"));
  CHECK(responseComplete("HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n"));
}
