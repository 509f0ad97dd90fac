// Every phase of every part of the request path is reached by some
// in-process exchange of the scenario table (issue #14, "Must show").
// A new part adds one entry to everyPart(); a new phase in a part's enum
// shows up here by itself and fails until a scenario reaches it.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/proxy/background_fill.h"
#include "daemon/proxy/cache_stage.h"
#include "daemon/proxy/client_connection.h"
#include "daemon/proxy/exchange.h"
#include "daemon/proxy/fetch_waiter.h"
#include "daemon/proxy/sliced_fetch.h"
#include "daemon/proxy/upstream_request.h"
#include "tests/unit/proxy/exchange_scenarios.h"

using namespace portcullis;
using namespace portcullis::testing;

namespace {

struct Part {
  std::string_view name;  ///< as PhaseObserver::onPhase gets it
  std::vector<std::string_view> phases;
};

/// Every phase of `Phase`, by name: its values from 0 up, until the name
/// function no longer knows one ("?"). A phase added to the enum (and to
/// its name function) is listed here without an edit.
template <class Phase>
std::vector<std::string_view> phasesOf(std::string_view (*name)(Phase)) {
  std::vector<std::string_view> out;
  for (unsigned i = 0; i < 256; ++i) {
    const std::string_view n = name(static_cast<Phase>(i));
    if (n == "?") break;
    out.push_back(n);
  }
  return out;
}

/// One entry per part: its name and every phase of its enum.
std::vector<Part> everyPart() {
  using namespace portcullis::proxy;
  return {
      {"connection", phasesOf(&ClientConnection::stateName)},
      {"exchange", phasesOf(&Exchange::phaseName)},
      {"upstream", phasesOf(&UpstreamRequest::phaseName)},
      {"cache", phasesOf(&CacheStage::phaseName)},
      {"waiter", phasesOf(&FetchWaiter::phaseName)},
      {"fill", phasesOf(&BackgroundFill::phaseName)},
      {"sliced", phasesOf(&SlicedFetch::phaseName)},
  };
}

}  // namespace

TEST_CASE("the scenarios together reach every phase of every part") {
  std::set<std::string> seen;
  for (const auto& s : exchangeScenarios()) {
    const ScenarioResult r = s.run();
    seen.insert(r.phases.begin(), r.phases.end());
  }
  std::set<std::string> known;
  for (const auto& part : everyPart()) {
    CHECK_MESSAGE(part.phases.size() >= 2, "no phases listed for " << part.name);
    for (auto phase : part.phases) {
      const std::string key = std::string(part.name) + ":" + std::string(phase);
      known.insert(key);
      CHECK_MESSAGE(seen.count(key) == 1, "no scenario reaches " << key);
    }
  }
  // And the observer names nothing the enums do not have.
  for (const auto& key : seen) CHECK_MESSAGE(known.count(key) == 1, "unknown phase " << key);
}
