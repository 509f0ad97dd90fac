#pragma once
// The table of in-process exchanges: one scenario (at least) per
// termination kind, plus the exchanges that reach the phases no error
// reaches (a tunnel, a request body, a cache hit, a revalidation, a
// collapsed waiter). exchange_test.cpp runs each and checks its outcome;
// exchange_phases_test.cpp runs them all and checks that every phase of
// every part was reached.

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/log/access_record.h"
#include "daemon/proxy/termination.h"

namespace portcullis::testing {

/// What one scenario produced.
struct ScenarioResult {
  /// The access record of the exchange the scenario is about.
  std::optional<log::AccessRecord> record;
  int clientStatus = 0;              ///< status of the (last) response the client got; 0 = none
  bool clientClosed = false;         ///< the proxy closed the client's connection
  std::string received;              ///< what the client got for that exchange
  std::set<std::string> phases;      ///< every "part:Phase" reached
  std::vector<std::string> changes;  ///< "part:From>To", in order (for failure messages)
};

struct Scenario {
  std::string_view name;
  proxy::Termination kind;  ///< the termination its record must show
  int clientStatus;         ///< what the client must get; 0 = no response head
  /// "part:Phase" the exchange must pass through.
  std::vector<std::string> phases;
  std::function<ScenarioResult()> run;
  /// How the cache took part, when the scenario is about the cache.
  std::optional<log::CacheResult> cache = std::nullopt;
};

/// Every scenario, termination kinds first, in enum order.
const std::vector<Scenario>& exchangeScenarios();

}  // namespace portcullis::testing
