// Scenarios for transparent mode: connections the kernel redirected to a
// [server] listen_transparent socket (the harness passes the original
// destination as the worker would), whose Host must agree with it.

#include "tests/unit/proxy/exchange_scenarios_util.h"

namespace portcullis::testing {

using T = proxy::Termination;

namespace {

proxy::TransparentDestination destination(std::string_view ip, uint16_t port) {
  return proxy::TransparentDestination{*acl::IpAddress::parse(ip), port, false};
}

ScenarioResult transparentRequest(ExchangeHarness& h, proxy::TransparentDestination dst,
                                  const std::string& request) {
  auto& client = h.connect(dst);
  client.send(request);
  return collect(h, client);
}

// Host is an IP literal other than where the client was going.
ScenarioResult hostLiteralMismatch() {
  ExchangeHarness h;
  const std::string port = std::to_string(h.origin().port());
  return transparentRequest(h, destination("127.0.0.1", h.origin().port()),
                            "GET / HTTP/1.1\r\nHost: 127.0.0.2:" + port + "\r\n\r\n");
}

// Host is a name that does not resolve to the destination: allowed by
// name, refused once DNS shows it names another server.
ScenarioResult hostNameMismatch() {
  ExchangeHarness h;
  const std::string port = std::to_string(h.origin().port());
  return transparentRequest(h, destination("127.0.0.1", h.origin().port()),
                            "GET / HTTP/1.1\r\nHost: meta.named.test:" + port + "\r\n\r\n");
}

ScenarioResult transparentCompleted() {
  ExchangeHarness h;
  h.origin().on("/t", OriginScript::respond(200, "hello"));
  const std::string port = std::to_string(h.origin().port());
  return transparentRequest(h, destination("127.0.0.1", h.origin().port()),
                            "GET /t HTTP/1.1\r\nHost: origin.test:" + port + "\r\n\r\n");
}

}  // namespace

std::vector<Scenario> transparentScenarios() {
  const std::vector<std::string> refused = {"connection:FlushingThenClose", "connection:Closed",
                                            "exchange:Done"};
  auto plus = [](std::vector<std::string> v, std::vector<std::string> more) {
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  return {
      {"transparent: Host names another address than the destination", T::kTransparentMismatch, 409,
       plus(refused, {"exchange:Admission"}), hostLiteralMismatch},
      {"transparent: Host resolves elsewhere than the destination", T::kTransparentMismatch, 409,
       plus(refused, {"exchange:Resolving"}), hostNameMismatch},
      {"transparent: Host agrees with the destination",
       T::kCompleted,
       200,
       {"exchange:Resolving", "exchange:Fetching", "upstream:Done", "connection:ReadingHead"},
       transparentCompleted},
  };
}

}  // namespace portcullis::testing
