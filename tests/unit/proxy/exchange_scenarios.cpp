// Scenarios for the termination kinds the proxy decides before or without
// the cache (admission, parsing, DNS, connecting, the origin's answer); the
// cache and tunnel ones are in exchange_scenarios_cache.cpp.

#include "tests/unit/proxy/exchange_scenarios.h"

#include <algorithm>
#include <cstdlib>

#include "tests/unit/proxy/exchange_scenarios_util.h"

namespace portcullis::testing {

using namespace std::chrono_literals;
using T = proxy::Termination;

// ---------------------------------------------------------------- helpers

int finalStatus(std::string_view bytes) {
  while (bytes.substr(0, 9) == "HTTP/1.1 " && bytes.size() >= 12) {
    const int status = std::atoi(std::string(bytes.substr(9, 3)).c_str());
    if (status >= 200 || status < 100) return status;
    const size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) return 0;
    bytes.remove_prefix(end + 4);  // an interim response: the final one follows
  }
  return 0;
}

bool responseComplete(std::string_view bytes) {
  for (;;) {
    const size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos || bytes.size() < 12) return false;
    const std::string head(bytes.substr(0, end + 2));
    const int status = std::atoi(head.substr(9, 3).c_str());
    const std::string_view body = bytes.substr(end + 4);
    if (status >= 100 && status < 200) {
      bytes = body;
      continue;
    }
    if (head.find("\r\nTransfer-Encoding: chunked") != std::string::npos) {
      return body.size() >= 5 && body.substr(body.size() - 5) == "0\r\n\r\n";
    }
    const size_t cl = head.find("\r\nContent-Length: ");
    if (cl == std::string::npos) return status == 304 || status == 204;
    return body.size() >= std::strtoull(head.c_str() + cl + 18, nullptr, 10);
  }
}

ScenarioResult collect(ExchangeHarness& h, TestClient& client, size_t records) {
  h.runUntilRecordsOf(client, records);
  h.runUntil([&] { return responseComplete(client.received()) || client.closed(); }, 2s);
  ScenarioResult r;
  r.record = h.lastRecordOf(client);
  r.received = client.received();
  r.clientStatus = finalStatus(r.received);
  r.clientClosed = client.closed();
  r.phases = h.phases().reachedSet();
  for (const auto& c : h.phases().changes())
    r.changes.push_back(c.part + ":" + c.from + ">" + c.to);
  return r;
}

ScenarioResult oneRequest(ExchangeHarness& h, const std::string& request) {
  auto& client = h.connect();
  client.send(request);
  return collect(h, client);
}

namespace {

std::string requestTo(std::string_view method, const std::string& url, std::string_view host,
                      std::string_view fields = {}) {
  return std::string(method) + " " + url + " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n" +
         std::string(fields) + "\r\n";
}

// ---------------------------------------------------------------- admission

ScenarioResult completed() {
  ExchangeHarness h;
  h.origin().on("/ok", OriginScript::respond(200, "hello"));
  return oneRequest(h, h.get("/ok"));
}

ScenarioResult deniedByRule() {
  ExchangeHarness h;
  const std::string host = "blocked.test:" + std::to_string(h.origin().port());
  return oneRequest(h, requestTo("GET", "http://" + host + "/", host));
}

ScenarioResult destinationProhibited() {
  ExchangeHarness h;  // meta.named.test: allowed by name, resolves to 169.254.169.254
  return oneRequest(h, requestTo("GET", "http://meta.named.test/", "meta.named.test"));
}

ScenarioResult rateLimited() {
  HarnessOptions o;
  o.extra =
      "[[limit]]\nname = \"one-per-second\"\nfrom = \"local\"\nrequests_per_second = 1\n"
      "burst = 1\n";
  ExchangeHarness h(o);  // the fake clock stands still: the bucket never refills
  h.origin().on("/ok", OriginScript::respond(200, "hello"));
  auto& client = h.connect();
  client.send(h.get("/ok"));
  collect(h, client);
  client.clearReceived();
  client.send(h.get("/ok"));
  return collect(h, client, 2);
}

ScenarioResult badRequest() {
  ExchangeHarness h;
  return oneRequest(h, "GET http://origin.test/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
}

ScenarioResult notAProxyRequest() {
  ExchangeHarness h;
  return oneRequest(h, "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n");
}

ScenarioResult methodNotSupported() {
  ExchangeHarness h;
  return oneRequest(h, requestTo("BREW", h.url("/pot"), "origin.test"));
}

ScenarioResult httpsWithoutConnect() {
  ExchangeHarness h;
  const std::string host = "origin.test:" + std::to_string(h.origin().port());
  return oneRequest(h, requestTo("GET", "https://" + host + "/", host));
}

ScenarioResult forwardingLoop() {
  ExchangeHarness h;
  return oneRequest(h, h.get("/ok", "Via: 1.1 portcullis\r\n"));
}

// ---------------------------------------------------------------- the client

ScenarioResult clientTimeout() {
  HarnessOptions o;
  o.server = "header_timeout = \"150ms\"";
  ExchangeHarness h(o);
  // Half a head, then nothing: 408 once header_timeout (a real timer) fires.
  return oneRequest(h, "GET " + h.url("/ok") + " HTTP/1.1\r\nHost: ori");
}

ScenarioResult clientClosed() {
  ExchangeHarness h;
  h.origin().on("/upload", OriginScript().hold());
  auto& client = h.connect();
  // A body of 100 bytes of which 10 come, then the client goes away.
  client.send("POST " + h.url("/upload") +
              " HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 100\r\n\r\n0123456789");
  h.runUntil([&] { return h.phases().reached("upstream", "SendingBody"); });
  client.close();
  return collect(h, client);
}

ScenarioResult clientGoneMidResponse() {
  ExchangeHarness h;
  h.origin().on("/long", OriginScript()
                             .write("HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" +
                                    std::string(1000, 'x'))
                             .awaitRelease()
                             .write(std::string(1000, 'y'))
                             .hold());
  auto& client = h.connect();
  client.send(h.get("/long"));
  h.runUntil([&] { return client.received().find(std::string(1000, 'x')) != std::string::npos; });
  client.close();
  // The next part of the body meets a closed socket (EPIPE).
  h.origin().release("/long");
  return collect(h, client);
}

// ---------------------------------------------------------------- DNS and connecting

ScenarioResult dnsError() {
  ExchangeHarness h;  // no script for the name: NXDOMAIN
  const std::string host = "nowhere.test:" + std::to_string(h.origin().port());
  return oneRequest(h, requestTo("GET", "http://" + host + "/", host));
}

ScenarioResult dnsTimeout() {
  ExchangeHarness h;
  h.resolver().fail("slow.test", net::DnsFailure::kTimeout, "request timed out",
                    FakeResolver::Delivery::kHeld);
  const std::string host = "slow.test:" + std::to_string(h.origin().port());
  auto& client = h.connect();
  client.send(requestTo("GET", "http://" + host + "/", host));
  // The lookup is outstanding until the test lets the answer through.
  h.runUntil([&] { return h.resolver().pending() == 1; });
  h.resolver().release("slow.test");
  return collect(h, client);
}

ScenarioResult connectRefused() {
  ExchangeHarness h;
  h.resolver().answer("refused.test", {"127.0.0.1"});
  const std::string host = "refused.test:" + std::to_string(h.refusingPort());
  return oneRequest(h, requestTo("GET", "http://" + host + "/", host));
}

ScenarioResult connectTimeout() {
  HarnessOptions o;
  o.server = "connect_timeout = \"150ms\"";
  ExchangeHarness h(o);
  h.resolver().answer("blackhole.test", {"127.0.0.1"});
  const std::string host = "blackhole.test:" + std::to_string(h.blackholePort());
  return oneRequest(h, requestTo("GET", "http://" + host + "/", host));
}

// ---------------------------------------------------------------- the origin

ScenarioResult originTimeout() {
  HarnessOptions o;
  o.server = "first_byte_timeout = \"150ms\"";
  ExchangeHarness h(o);
  h.origin().on("/silent", OriginScript().hold());
  return oneRequest(h, h.get("/silent"));
}

ScenarioResult originClosed() {
  ExchangeHarness h;
  h.origin().on("/hangup", OriginScript().close());
  return oneRequest(h, h.get("/hangup"));
}

ScenarioResult badOriginResponse() {
  ExchangeHarness h;
  h.origin().on("/garbage", OriginScript().write("this is not HTTP\r\n\r\n"));
  return oneRequest(h, h.get("/garbage"));
}

ScenarioResult interimFlood() {
  ExchangeHarness h;
  std::string flood;
  for (int i = 0; i < 20; ++i) flood += "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n";
  h.origin().on("/flood", OriginScript().write(flood).hold());
  return oneRequest(h, h.get("/flood"));
}

ScenarioResult originBodyBroken() {
  ExchangeHarness h;
  h.origin().on(
      "/short",
      OriginScript().write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this").close());
  return oneRequest(h, h.get("/short"));
}

}  // namespace

// Defined in exchange_scenarios_cache.cpp, exchange_scenarios_fill.cpp,
// exchange_scenarios_transparent.cpp and exchange_scenarios_sliced.cpp.
std::vector<Scenario> cacheScenarios();
std::vector<Scenario> fillScenarios();
std::vector<Scenario> transparentScenarios();
std::vector<Scenario> slicedScenarios();
std::vector<Scenario> authScenarios();  // exchange_scenarios_auth.cpp

const std::vector<Scenario>& exchangeScenarios() {
  static const std::vector<Scenario> all = [] {
    // Phases every exchange whose request reached the origin passes through.
    const std::vector<std::string> fetched = {"exchange:Resolving", "exchange:Fetching",
                                              "upstream:Connecting", "upstream:AwaitingHead",
                                              "upstream:Done"};
    auto plus = [](std::vector<std::string> v, std::vector<std::string> more) {
      v.insert(v.end(), more.begin(), more.end());
      return v;
    };
    // Answered by the proxy itself, then closed.
    const std::vector<std::string> refused = {"connection:FlushingThenClose", "connection:Closed",
                                              "exchange:Done"};
    // Refused by the exchange's admission, before any lookup.
    const std::vector<std::string> notAdmitted = plus(refused, {"exchange:Admission"});
    std::vector<Scenario> v = {
        {"completed", T::kCompleted, 200,
         plus(fetched, {"connection:ReadingHead", "upstream:RelayingBody", "cache:Done"}),
         completed},
        {"denied by a rule naming the host", T::kDeniedByRule, 403, notAdmitted, deniedByRule},
        {"a name that resolves to a special address", T::kDestinationProhibited, 403,
         plus(refused, {"exchange:Resolving"}), destinationProhibited},
        {"over the client's request rate",
         T::kRateLimited,
         429,
         {"connection:ReadingHead"},
         rateLimited},
        {"two Host fields", T::kBadRequest, 400, notAdmitted, badRequest},
        {"origin-form to a forward proxy", T::kNotAProxyRequest, 400, notAdmitted,
         notAProxyRequest},
        {"an unknown method", T::kMethodNotSupported, 501, notAdmitted, methodNotSupported},
        {"absolute-form https", T::kHttpsWithoutConnect, 501, notAdmitted, httpsWithoutConnect},
        {"Via names the proxy", T::kForwardingLoop, 508, notAdmitted, forwardingLoop},
        {"half a request head", T::kClientTimeout, 408, refused, clientTimeout},
        {"the client leaves mid-body",
         T::kClientClosed,
         0,
         {"upstream:SendingBody", "connection:Closed"},
         clientClosed},
        {"the client leaves mid-response",
         T::kClientClosed,
         200,
         {"upstream:RelayingBody", "connection:Closed"},
         clientGoneMidResponse},
        {"NXDOMAIN", T::kDnsError, 502, {"exchange:Resolving"}, dnsError},
        {"the resolver times out (deferred answer)",
         T::kDnsTimeout,
         504,
         {"exchange:Resolving"},
         dnsTimeout},
        {"no one listens",
         T::kConnectRefused,
         502,
         {"upstream:Connecting", "upstream:Done"},
         connectRefused},
        {"SYN dropped",
         T::kConnectTimeout,
         504,
         {"upstream:Connecting", "upstream:Done"},
         connectTimeout},
        {"the origin never answers", T::kOriginTimeout, 504, plus(fetched, refused), originTimeout},
        {"the origin hangs up", T::kOriginClosed, 502, plus(fetched, refused), originClosed},
        {"the origin sends garbage", T::kBadOriginResponse, 502, plus(fetched, refused),
         badOriginResponse},
        {"the origin floods 1xx", T::kBadOriginResponse, 502, plus(fetched, refused), interimFlood},
        {"the body stops short",
         T::kOriginBodyBroken,
         200,
         {"upstream:RelayingBody", "connection:Closed"},
         originBodyBroken},
    };
    for (auto& s : cacheScenarios()) v.push_back(std::move(s));
    for (auto& s : fillScenarios()) v.push_back(std::move(s));
    for (auto& s : transparentScenarios()) v.push_back(std::move(s));
    for (auto& s : slicedScenarios()) v.push_back(std::move(s));
    for (auto& s : authScenarios()) v.push_back(std::move(s));
    std::stable_sort(v.begin(), v.end(),
                     [](const Scenario& a, const Scenario& b) { return a.kind < b.kind; });
    return v;
  }();
  return all;
}

}  // namespace portcullis::testing
