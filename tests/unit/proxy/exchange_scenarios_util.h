#pragma once
// Helpers shared by the scenario files: reading what a client received,
// and turning a finished harness run into a ScenarioResult.

#include <string>
#include <string_view>

#include "tests/unit/proxy/exchange_harness.h"
#include "tests/unit/proxy/exchange_scenarios.h"

namespace portcullis::testing {

/// The status of the first final (non-1xx) response in `bytes`; 0 = none.
int finalStatus(std::string_view bytes);

/// True when `bytes` hold a whole final response (Content-Length or
/// chunked framing; a response framed by close is never "whole").
bool responseComplete(std::string_view bytes);

/// Waits until `client` wrote `records` access records and then got its
/// response (or was closed), and collects the outcome: the last record of
/// `client`, what it received, and the phases the harness saw.
ScenarioResult collect(ExchangeHarness& h, TestClient& client, size_t records = 1);

/// Sends `request` on a new connection and collects its outcome.
ScenarioResult oneRequest(ExchangeHarness& h, const std::string& request);

}  // namespace portcullis::testing
