#include "daemon/log/access_record.h"

#include <doctest/doctest.h>

#include "tests/unit/log/json_check.h"

using namespace portcullis::log;
using portcullis::SystemTime;
using portcullis::testing::JsonReader;
using portcullis::testing::JsonValue;
using Type = JsonValue::Type;

namespace {

SystemTime at(int64_t ms) {
  return SystemTime(std::chrono::milliseconds(ms));
}

AccessRecord sample() {
  AccessRecord r;
  r.start = at(1'700'000'000'123);  // 2023-11-14T22:13:20.123Z
  r.client = "10.0.0.7:51000";
  r.user = "alice";
  r.method = "GET";
  r.url = "http://example.com/a?b=c";
  r.status = 200;
  r.bytesIn = 120;
  r.bytesOut = 5120;
  r.upstreamBytes = 5000;
  r.cache = CacheResult::kMiss;
  r.decision = AccessDecision::kAllow;
  r.rule = "staff-web";
  r.ruleWhere = "/etc/portcullis/portcullis.toml:42";
  r.durationMs = 12.5;
  r.upstream = "93.184.216.34:80";
  r.error = "";
  r.termination = "completed";
  return r;
}

}  // namespace

TEST_CASE("formatTimestamp is RFC 3339 UTC with milliseconds") {
  CHECK(formatTimestamp(at(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(formatTimestamp(at(1'700'000'000'123)) == "2023-11-14T22:13:20.123Z");
  CHECK(formatTimestamp(at(951'782'400'007)) == "2000-02-29T00:00:00.007Z");
  CHECK(formatTimestamp(at(-1)) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("formatJson: every field present and typed") {
  const auto v = JsonReader::parse(formatJson(sample()));
  REQUIRE(v.type == Type::kObject);
  struct Want {
    const char* key;
    Type type;
  };
  // One field a line, as the log documents them.
  // clang-format off
  const Want want[] = {
      {"ts", Type::kString},
      {"client", Type::kString},
      {"user", Type::kString},
      {"method", Type::kString},
      {"url", Type::kString},
      {"status", Type::kNumber},
      {"bytes_in", Type::kNumber},
      {"bytes_out", Type::kNumber},
      {"upstream_bytes", Type::kNumber},
      {"cache", Type::kString},
      {"slice", Type::kNull},
      {"decision", Type::kString},
      {"rule", Type::kString},
      {"rule_where", Type::kString},
      {"duration_ms", Type::kNumber},
      {"upstream", Type::kString},
      {"parent", Type::kNull},
      {"error", Type::kNull},
      {"termination", Type::kString},
      {"sni", Type::kNull},
      {"alpn", Type::kNull},
      {"mode", Type::kString},
  };
  // clang-format on
  CHECK(v.object.size() == std::size(want));
  for (const auto& w : want) {
    CAPTURE(w.key);
    REQUIRE(v.find(w.key) != nullptr);
    CHECK(v.at(w.key).type == w.type);
  }
  CHECK(v.at("ts").string == "2023-11-14T22:13:20.123Z");
  CHECK(v.at("client").string == "10.0.0.7:51000");
  CHECK(v.at("status").number == 200);
  CHECK(v.at("bytes_in").number == 120);
  CHECK(v.at("bytes_out").number == 5120);
  CHECK(v.at("upstream_bytes").number == 5000);
  CHECK(v.at("cache").string == "MISS");
  CHECK(v.at("decision").string == "allow");
  CHECK(v.at("rule_where").string == "/etc/portcullis/portcullis.toml:42");
  CHECK(v.at("duration_ms").number == 12.5);
  CHECK(v.at("termination").string == "completed");
  CHECK(v.at("mode").string == "explicit");
}

TEST_CASE("formatJson: a tunnel's SNI and ALPN") {
  AccessRecord r = sample();
  r.sni = "www.example.com";
  r.alpn = "h2,http/1.1";
  const std::string json = formatJson(r);
  CHECK(json.find("\"sni\":\"www.example.com\",\"alpn\":\"h2,http/1.1\",") != std::string::npos);
}

TEST_CASE("formatJson: duration rounded to microseconds") {
  AccessRecord r = sample();
  r.durationMs = 12.634299;
  CHECK(formatJson(r).find("\"duration_ms\":12.634,") != std::string::npos);
}

TEST_CASE("formatJson: unauthenticated, denied, with error") {
  AccessRecord r = sample();
  r.user.clear();
  r.upstream.clear();
  r.ruleWhere.clear();
  r.decision = AccessDecision::kDeny;
  r.cache = CacheResult::kNone;
  r.status = 403;
  r.error = "destination denied";
  r.termination = "denied_by_rule";
  const auto v = JsonReader::parse(formatJson(r));
  CHECK(v.at("user").type == Type::kNull);
  CHECK(v.at("upstream").type == Type::kNull);
  CHECK(v.at("rule_where").type == Type::kNull);
  CHECK(v.at("decision").string == "deny");
  CHECK(v.at("cache").string == "NONE");
  CHECK(v.at("error").string == "destination denied");
  CHECK(v.at("termination").string == "denied_by_rule");
}

TEST_CASE("formatJson: a hostile URL cannot forge a field or a line") {
  AccessRecord r = sample();
  r.url = "http://x/\",\"decision\":\"allow\"}\n{\"status\":200,\"x\":\"\x01\xff\x7f";
  r.user = "bob\"\\";
  const std::string line = formatJson(r);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(portcullis::testing::isValidUtf8(line));
  const auto v = JsonReader::parse(line);
  CHECK(v.object.size() == 22);
  CHECK(v.at("url").string ==
        "http://x/\",\"decision\":\"allow\"}\n{\"status\":200,\"x\":\"\x01\xef\xbf\xbd\x7f");
  CHECK(v.at("user").string == "bob\"\\");
}

TEST_CASE("cache result names") {
  struct Case {
    CacheResult r;
    const char* name;
    bool fromCache;
  };
  const Case cases[] = {
      {CacheResult::kNone, "NONE", false},     {CacheResult::kHit, "HIT", true},
      {CacheResult::kMiss, "MISS", false},     {CacheResult::kRevalidated, "REVALIDATED", true},
      {CacheResult::kStale, "STALE", true},    {CacheResult::kCollapsed, "COLLAPSED", true},
      {CacheResult::kBypass, "BYPASS", false}, {CacheResult::kPartial, "PARTIAL", false},
  };
  for (const auto& c : cases) {
    CHECK(toString(c.r) == c.name);
    CHECK(servedFromCache(c.r) == c.fromCache);
  }
}

TEST_CASE("formatSquid: columns and escaping") {
  AccessRecord r = sample();
  CHECK(formatSquid(r) ==
        "1700000000.123     13 10.0.0.7 TCP_MISS/200 5120 GET http://example.com/a?b=c alice "
        "HIER_DIRECT/93.184.216.34 -");
  SUBCASE("through a parent: its name, as Squid logs a parent hop") {
    r.parent = "upstream1";
    CHECK(formatSquid(r).ends_with(" FIRST_PARENT_MISS/upstream1 -"));
    CHECK(formatJson(r).find(R"("parent":"upstream1")") != std::string::npos);
  }
  SUBCASE("hostile url stays in its column") {
    r.url = "http://x/a b\nc%";
    r.user.clear();
    r.upstream.clear();
    const std::string line = formatSquid(r);
    CHECK(line.find("http://x/a%20b%0Ac%25 - HIER_NONE/-") != std::string::npos);
  }
  SUBCASE("deny and tunnel codes") {
    r.decision = AccessDecision::kDeny;
    r.status = 403;
    CHECK(formatSquid(r).find(" TCP_DENIED/403 ") != std::string::npos);
    r.decision = AccessDecision::kAllow;
    r.status = 200;
    r.method = "CONNECT";
    r.url = "example.com:443";
    CHECK(formatSquid(r).find(" TCP_TUNNEL/200 ") != std::string::npos);
  }
  SUBCASE("ipv6 client") {
    r.client = "[2001:db8::1]:4000";
    CHECK(formatSquid(r).find(" 2001:db8::1 TCP_MISS/") != std::string::npos);
  }
}

TEST_CASE("formatCombined: Apache layout and escaping") {
  AccessRecord r = sample();
  r.userAgent = "curl/8 \"x\"";
  CHECK(formatCombined(r) ==
        "10.0.0.7 - alice [14/Nov/2023:22:13:20 +0000] \"GET http://example.com/a?b=c "
        "HTTP/1.1\" 200 5120 \"-\" \"curl/8 \\\"x\\\"\"");
  r.url = "http://x/\"\n\\";
  r.user.clear();
  const std::string line = formatCombined(r);
  CHECK(line.find("10.0.0.7 - - [") == 0);
  CHECK(line.find("http://x/\\\"\\x0a\\\\ HTTP/1.1") != std::string::npos);
}
