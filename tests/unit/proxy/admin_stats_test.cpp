#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstring>
#include <regex>
#include <set>
#include <sstream>

#include "daemon/admin/admin_address.h"
#include "daemon/admin/peer_allow_list.h"
#include "daemon/admin/stats.h"
#include "tests/unit/log/json_check.h"

using namespace portcullis::admin;
using portcullis::SystemTime;
using portcullis::log::AccessDecision;
using portcullis::log::AccessRecord;
using portcullis::log::CacheResult;
using portcullis::testing::JsonReader;
using portcullis::testing::JsonValue;

namespace {

const SystemTime kT0{std::chrono::seconds(1'800'000'000)};

AccessRecord rec(int status, CacheResult cache, uint64_t out, uint64_t upstream = 0) {
  AccessRecord r;
  r.start = kT0;
  r.client = "127.0.0.1:4000";
  r.method = "GET";
  r.url = "http://example.com/";
  r.status = status;
  r.bytesIn = 100;
  r.bytesOut = out;
  r.upstreamBytes = upstream;
  r.cache = cache;
  r.rule = "web";
  return r;
}

void fill(Stats& s) {
  s.setConnectionLimit(1000);
  s.setWorkerCount(2);
  s.reportLoopLag(0, 1.5);
  s.reportLoopLag(1, 0.25);
  s.connectionOpened();
  s.connectionOpened();
  s.connectionClosed();
  s.connectionRefused(RefuseReason::kMaxConnections);
  s.recordRequest(rec(200, CacheResult::kHit, 1000));
  s.recordRequest(rec(200, CacheResult::kMiss, 3000, 2900));
  s.recordRequest(rec(304, CacheResult::kRevalidated, 0, 200));
  s.recordRequest(rec(502, CacheResult::kNone, 500));
  AccessRecord denied = rec(403, CacheResult::kNone, 300);
  denied.decision = AccessDecision::kDeny;
  denied.rule = "block \"ads\"\nlist";  // hostile-looking rule name, escaped in labels
  s.recordRequest(denied);
  s.aclDenied(denied.rule);
  s.aclDenied("default-deny");
  s.upstreamError();
  s.dnsFailure();
  s.dnsFailure();
  s.setCacheUsage(123456, 42);
  s.reloadFinished(true);
  s.reloadFinished(false);
}

// Minimal Prometheus text-format 0.0.4 checker: every non-comment line is
// `name{labels} value`, every sample's family has # HELP and # TYPE before it.
std::map<std::string, double> checkPrometheus(const std::string& text) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$)");
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  std::set<std::string> help, type;
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (std::getline(in, line)) {
    CAPTURE(line);
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      CHECK(help.insert(m[1]).second);  // one HELP per family
    } else if (std::regex_match(line, m, kType)) {
      CHECK(help.count(m[1]) == 1);
      CHECK(type.insert(m[1]).second);
    } else {
      REQUIRE(std::regex_match(line, m, kSample));
      CHECK(help.count(m[1]) == 1);
      CHECK(type.count(m[1]) == 1);
      const std::string key = std::string(m[1]) + std::string(m[2]);
      CHECK(samples.count(key) == 0);  // no duplicate series
      samples[key] = std::stod(m[7]);
    }
  }
  return samples;
}

}  // namespace

TEST_CASE("Stats: counters, ratios and denials") {
  Stats s(kT0);
  fill(s);
  const StatsSnapshot snap = s.snapshot(kT0 + std::chrono::seconds(90));
  CHECK(snap.connectionsActive == 1);
  CHECK(snap.connectionsTotal == 2);
  CHECK(snap.refused[static_cast<size_t>(RefuseReason::kMaxConnections)] == 1);
  CHECK(snap.requests == 5);
  CHECK(snap.byClass[2] == 2);
  CHECK(snap.byClass[3] == 1);
  CHECK(snap.byClass[4] == 1);
  CHECK(snap.byClass[5] == 1);
  CHECK(snap.cacheableRequests == 3);
  CHECK(snap.cacheHits == 2);  // HIT and REVALIDATED
  CHECK(snap.hitRatio() == doctest::Approx(2.0 / 3));
  CHECK(snap.byteHitRatio() == doctest::Approx(1000.0 / 4000));
  CHECK(snap.bytesToClients == 4800);
  CHECK(snap.bytesFromUpstream == 3100);
  CHECK(snap.bytesFromClients == 500);
  CHECK(snap.aclDenials.at("default-deny") == 1);
  CHECK(snap.aclDenials.at("block \"ads\"\nlist") == 1);
  CHECK(snap.reloadsOk == 1);
  CHECK(snap.reloadsFailed == 1);
  CHECK(snap.lastReloadOk == 0);
  CHECK(snap.loopLagMs == std::vector<double>{1.5, 0.25});
  CHECK(snap.lastSeq == 5);
}

TEST_CASE("Stats: closing more than opened never wraps") {
  Stats s(kT0);
  s.connectionClosed();
  CHECK(s.snapshot(kT0).connectionsActive == 0);
}

TEST_CASE("Stats: the recent ring is bounded and filtered by seq") {
  Stats s(kT0, 3);
  for (int i = 0; i < 5; ++i)
    s.recordRequest(rec(200, CacheResult::kMiss, static_cast<uint64_t>(i)));
  uint64_t last = 0;
  auto all = s.recent(0, &last);
  CHECK(last == 5);
  REQUIRE(all.size() == 3);
  CHECK(all.front().first == 3);
  CHECK(all.back().first == 5);
  CHECK(all.back().second.bytesOut == 4);
  CHECK(s.recent(4).size() == 1);
  CHECK(s.recent(5).empty());
}

TEST_CASE("Stats: per-minute history holds deltas, at most N points") {
  Stats s(kT0, 10, 3);
  for (int minute = 1; minute <= 5; ++minute) {
    for (int i = 0; i < minute; ++i) s.recordRequest(rec(200, CacheResult::kHit, 10));
    s.recordRequest(rec(200, CacheResult::kMiss, 5));
    s.sampleHistory(kT0 + std::chrono::minutes(minute));
  }
  const auto h = s.history();
  REQUIRE(h.size() == 3);
  CHECK(h[0].unixTime == portcullis::toUnixSeconds(kT0 + std::chrono::minutes(3)));
  CHECK(h[2].requests == 6);
  CHECK(h[2].hits == 5);
  CHECK(h[2].bytesOut == 55);
  CHECK(h[2].bytesFromCache == 50);
}

TEST_CASE("renderPrometheus: valid exposition format with the expected series") {
  Stats s(kT0);
  fill(s);
  const auto samples = checkPrometheus(renderPrometheus(s.snapshot(kT0)));
  CHECK(samples.at("portcullis_connections_active") == 1);
  CHECK(samples.at("portcullis_connections_total") == 2);
  CHECK(samples.at("portcullis_connections_refused_total{reason=\"max_connections\"}") == 1);
  CHECK(samples.at("portcullis_connection_limit") == 1000);
  CHECK(samples.at("portcullis_requests_total{code_class=\"2xx\"}") == 2);
  CHECK(samples.at("portcullis_cache_results_total{result=\"hit\"}") == 1);
  CHECK(samples.at("portcullis_cache_results_total{result=\"collapsed\"}") == 0);
  CHECK(samples.at("portcullis_client_sent_bytes_total") == 4800);
  CHECK(samples.at("portcullis_upstream_received_bytes_total") == 3100);
  CHECK(samples.at("portcullis_cache_served_bytes_total") == 1000);
  CHECK(samples.at("portcullis_cache_hit_ratio") == doctest::Approx(2.0 / 3));
  CHECK(samples.at("portcullis_cache_byte_hit_ratio") == doctest::Approx(0.25));
  CHECK(samples.at("portcullis_upstream_errors_total") == 1);
  CHECK(samples.at("portcullis_dns_failures_total") == 2);
  CHECK(samples.at("portcullis_acl_denials_total{rule=\"default-deny\"}") == 1);
  CHECK(samples.at("portcullis_acl_denials_total{rule=\"block \\\"ads\\\"\\nlist\"}") == 1);
  CHECK(samples.at("portcullis_cache_size_bytes") == 123456);
  CHECK(samples.at("portcullis_cache_objects") == 42);
  CHECK(samples.at("portcullis_reloads_total{outcome=\"failure\"}") == 1);
  CHECK(samples.at("portcullis_config_last_reload_successful") == 0);
  CHECK(samples.at("portcullis_worker_loop_lag_seconds{worker=\"0\"}") == doctest::Approx(0.0015));
  CHECK(samples.at("portcullis_start_time_seconds") == 1.8e9);
}

TEST_CASE("renderStatusJson: valid JSON, typed figures, recent and history") {
  Stats s(kT0);
  fill(s);
  s.sampleHistory(kT0 + std::chrono::minutes(1));
  uint64_t last = 0;
  const auto recent = s.recent(3, &last);
  auto snap = s.snapshot(kT0 + std::chrono::seconds(3725));
  const auto v = JsonReader::parse(renderStatusJson(snap, recent, s.history()));
  using T = JsonValue::Type;
  CHECK(v.at("uptime_s").number == 3725);
  CHECK(v.at("connections").at("active").number == 1);
  CHECK(v.at("connections").at("limit").number == 1000);
  CHECK(v.at("connections").at("refused").at("max_connections").number == 1);
  CHECK(v.at("requests").at("total").number == 5);
  CHECK(v.at("requests").at("by_class").at("5xx").number == 1);
  CHECK(v.at("requests").at("by_cache").at("REVALIDATED").number == 1);
  CHECK(v.at("bytes").at("to_clients").number == 4800);
  CHECK(v.at("hit_ratio").type == T::kNumber);
  CHECK(v.at("acl_denials").at("block \"ads\"\nlist").number == 1);
  CHECK(v.at("reloads").at("last_ok").type == T::kBool);
  CHECK(v.at("loop_lag_ms").array.size() == 2);
  CHECK(v.at("seq").number == 5);
  REQUIRE(v.at("recent").array.size() == 2);
  CHECK(v.at("recent").array[0].at("seq").number == 4);
  CHECK(v.at("recent").array[1].at("status").number == 403);
  CHECK(v.at("recent").array[1].at("decision").string == "deny");
  REQUIRE(v.at("history").array.size() == 1);
  CHECK(v.at("history").array[0].at("requests").number == 3);
  CHECK(v.at("history").array[0].at("bytes_saved").number == 1000);
}

TEST_CASE("renderStatusText and renderRecentLines") {
  Stats s(kT0);
  fill(s);
  const std::string text = renderStatusText(s.snapshot(kT0 + std::chrono::seconds(3725)));
  CHECK(text.find("up 1h 2m") != std::string::npos);
  CHECK(text.find("1 active (limit 1000), 2 total, 1 refused: max_connections 1") !=
        std::string::npos);
  CHECK(text.find("66.7% of requests, 25.0% of bytes") != std::string::npos);
  CHECK(text.find("last one FAILED") != std::string::npos);
  CHECK(text.find("block \"ads\"\\x0alist 1") != std::string::npos);

  AccessRecord evil = rec(200, CacheResult::kHit, 1);
  evil.url = "http://x/\x1b]0;pwned\x07\xc2\x9b";
  const std::string lines = renderRecentLines({{1, evil}}, false);
  CHECK(lines.find('\x1b') == std::string::npos);
  CHECK(lines.find("\\x1b]0;pwned\\x07\\xc2\\x9b") != std::string::npos);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 1);
  const std::string jsonl = renderRecentLines({{1, evil}, {2, evil}}, true);
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 2);
  CHECK_NOTHROW(JsonReader::parse(jsonl.substr(0, jsonl.find('\n'))));
}

TEST_CASE("PeerAllowList") {
  auto v4 = [](const char* ip) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
  };
  auto v6 = [](const char* ip) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
  };
  auto list = PeerAllowList::parse({"127.0.0.1/32", "10.1.0.0/17", "::1", "2001:db8::/33"});
  REQUIRE(list.ok());
  struct Case {
    const char* ip;
    bool v6;
    bool allowed;
  };
  const Case cases[] = {
      {"127.0.0.1", false, true},
      {"127.0.0.2", false, false},
      {"10.1.127.255", false, true},
      {"10.1.128.0", false, false},
      {"::1", true, true},
      {"::2", true, false},
      {"::ffff:127.0.0.1", true, true},  // v4-mapped counts as v4
      {"2001:db8:7fff::1", true, true},
      {"2001:db8:8000::1", true, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.ip);
    if (c.v6) {
      const auto a = v6(c.ip);
      CHECK(list->allows(reinterpret_cast<const sockaddr*>(&a)) == c.allowed);
    } else {
      const auto a = v4(c.ip);
      CHECK(list->allows(reinterpret_cast<const sockaddr*>(&a)) == c.allowed);
    }
  }
  CHECK_FALSE(list->allows(nullptr));
  for (const char* bad : {"10.0.0.0/33", "::/129", "example.com", "10.0.0.0/", "1.2.3.4/x"}) {
    CAPTURE(bad);
    CHECK_FALSE(PeerAllowList::parse({bad}).ok());
  }
}

TEST_CASE("AdminAddress parsing") {
  struct Case {
    const char* text;
    bool ok;
    const char* back;
  };
  const Case cases[] = {
      {"127.0.0.1:3129", true, "127.0.0.1:3129"},
      {"[::1]:0", true, "[::1]:0"},
      {"unix:/run/p.sock", true, "unix:/run/p.sock"},
      {"localhost:3129", false, ""},
      {"127.0.0.1", false, ""},
      {"127.0.0.1:65536", false, ""},
      {"::1:3129", false, ""},
      {"unix:", false, ""},
      {"[::1]3129", false, ""},
      {"1.2.3.4:-1", false, ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto a = AdminAddress::parse(c.text);
    CHECK(a.ok() == c.ok);
    if (a.ok()) CHECK(a->toString() == c.back);
  }
}

TEST_CASE("log sink failures are reported in all three views") {
  portcullis::log::LogSink sink;
  REQUIRE(sink.open("/dev/full").ok());  // every write fails with ENOSPC
  sink.submit("lost");
  sink.flush();
  Stats s(kT0);
  s.setLogSinks({{"access", &sink}});
  const auto snap = s.snapshot(kT0);
  const auto samples = checkPrometheus(renderPrometheus(snap));
  CHECK(samples.at("portcullis_log_lines_total{log=\"access\",outcome=\"failed\"}") == 1);
  CHECK(samples.at("portcullis_log_lines_total{log=\"access\",outcome=\"written\"}") == 0);
  const auto v = JsonReader::parse(renderStatusJson(snap, {}, {}));
  CHECK(v.at("logs").at("access").at("failed").number == 1);
  CHECK(v.at("logs").at("access").at("last_error").string.find("No space left") !=
        std::string::npos);
  CHECK(renderStatusText(snap).find("1 failed (last error: write /dev/full: No space left") !=
        std::string::npos);
  sink.stop();
}

TEST_CASE("renderPrometheus: the DNS cache gauge sums the workers' reports") {
  Stats s(kT0);
  s.setWorkerCount(2);
  s.reportDnsCacheEntries(0, 7);
  s.reportDnsCacheEntries(1, 5);
  s.reportDnsCacheEntries(1, 3);               // the latest report replaces the last
  s.reportDnsCacheEntries(kMaxWorkers, 1000);  // out of range: ignored
  const auto samples = checkPrometheus(renderPrometheus(s.snapshot(kT0)));
  CHECK(samples.at("portcullis_dns_cache_entries") == 10);
}

TEST_CASE("exchanges are counted by why they ended") {
  Stats s(kT0);
  auto completed = rec(200, CacheResult::kMiss, 100);
  completed.termination = "completed";
  auto denied = rec(403, CacheResult::kNone, 100);
  denied.termination = "denied_by_rule";
  s.recordRequest(completed);
  s.recordRequest(completed);
  s.recordRequest(denied);
  const auto snap = s.snapshot(kT0);
  CHECK(snap.terminations.at("completed") == 2);
  CHECK(snap.terminations.at("denied_by_rule") == 1);
  const std::string prom = renderPrometheus(snap);
  CHECK(prom.find("portcullis_exchanges_total{termination=\"completed\"} 2") != std::string::npos);
  CHECK(prom.find("portcullis_exchanges_total{termination=\"denied_by_rule\"} 1") !=
        std::string::npos);
}

TEST_CASE("the last reload's restart_required, time and outcome in /status and the text view") {
  Stats s(kT0);
  SUBCASE("no reload yet: null time, nothing pending") {
    const auto v = JsonReader::parse(renderStatusJson(s.snapshot(kT0), {}, {}));
    CHECK(v.at("reloads").at("last_time").type == JsonValue::Type::kNull);
    CHECK(v.at("reloads").at("restart_required").array.empty());
    CHECK(renderStatusText(s.snapshot(kT0)).find("restart") == std::string::npos);
  }
  SUBCASE("a reload that changed restart-only keys, then a failed one") {
    s.reloadFinished(true, {}, {"server.listen", "log.access"}, kT0 + std::chrono::seconds(5));
    s.reloadFinished(false, "t.toml:1:1: error: x", {}, kT0 + std::chrono::seconds(9));
    const auto snap = s.snapshot(kT0 + std::chrono::seconds(10));
    const auto v = JsonReader::parse(renderStatusJson(snap, {}, {}));
    const auto& reloads = v.at("reloads");
    // A failed reload changes nothing that runs: what waits for a restart stays.
    REQUIRE(reloads.at("restart_required").array.size() == 2);
    CHECK(reloads.at("restart_required").array[0].string == "server.listen");
    CHECK(reloads.at("restart_required").array[1].string == "log.access");
    CHECK(reloads.at("last_ok").boolean == false);
    CHECK(reloads.at("last_time").string ==
          portcullis::log::formatTimestamp(kT0 + std::chrono::seconds(9)));
    const std::string text = renderStatusText(snap);
    CHECK(text.find("restart       needed for server.listen, log.access (") != std::string::npos);
    CHECK(text.find("last at " + portcullis::log::formatTimestamp(kT0 + std::chrono::seconds(9))) !=
          std::string::npos);
  }
  SUBCASE("a later reload back to the start-up values clears it") {
    s.reloadFinished(true, {}, {"server.listen"}, kT0);
    s.reloadFinished(true, {}, {}, kT0);
    CHECK(s.snapshot(kT0).restartRequired.empty());
  }
}

TEST_CASE("renderRestartOnly: one `key \"value\"` line per key, values JSON-quoted") {
  Stats s(kT0);
  s.setRestartOnlyValues(
      {{"server.listen", "127.0.0.1:3128, [::1]:3128"}, {"log.access", "/var/log/a \"b\"\nc"}});
  CHECK(renderRestartOnly(s.restartOnlyValues()) ==
        "server.listen \"127.0.0.1:3128, [::1]:3128\"\n"
        "log.access \"/var/log/a \\\"b\\\"\\nc\"\n");
}
