#pragma once
// Helpers for the fill scenarios and tests (exchange_scenarios_fill.cpp,
// background_fill_test.cpp): a body sent in three parts, and a leader
// whose client leaves after the first.

#include <string>
#include <vector>

#include "tests/unit/proxy/exchange_harness.h"
#include "tests/unit/proxy/exchange_scenarios.h"

namespace portcullis::testing {

/// A cache in a temporary directory with `fill_after_abort = "<value>"`.
HarnessOptions fillOptions(const std::string& fillAfterAbort);
/// The body scriptThreeParts sends: 1000 'a', 500 'b', 500 'c'.
std::string fillBody();
/// A chunk size in hex.
std::string hexSize(size_t n);
/// `path` answers 200 (max-age=60) with fillBody() in three parts, each
/// after OriginServer::release(path) but the first; Content-Length: 2000,
/// or chunked when `chunked`.
void scriptThreeParts(ExchangeHarness& h, const std::string& path, bool chunked);
/// A client GETs `path`, reads the first part and goes away; the second
/// part meets its closed socket. Returns once its record is written.
TestClient& leaderLeaves(ExchangeHarness& h, const std::string& path);

/// The fill scenarios of the table.
std::vector<Scenario> fillScenarios();

}  // namespace portcullis::testing
