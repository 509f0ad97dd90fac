#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "daemon/config/config_loader.h"
#include "daemon/config/config_schema.h"
#include "daemon/config/units.h"

using namespace portcullis::config;

TEST_CASE("durations") {
  struct Case { const char* in; long long ms; };
  const Case ok[] = {{"250ms", 250}, {"30s", 30000}, {"5m", 300000}, {"1h", 3600000},
                     {"1d", 86400000}, {"0s", 0}, {"10 s", 10000}};
  for (const Case& c : ok) {
    CAPTURE(c.in);
    std::string err;
    auto d = parseDuration(c.in, err);
    REQUIRE(d);
    CHECK(d->count() == c.ms);
  }
  for (const char* bad : {"", "s", "10", "10x", "-1s", "1.5s", "99999999999999999999s", "5 m s"}) {
    CAPTURE(bad);
    std::string err;
    CHECK_FALSE(parseDuration(bad, err));
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("sizes") {
  struct Case { const char* in; uint64_t bytes; };
  const Case ok[] = {{"0", 0},           {"512 B", 512},         {"8 KiB", 8192},
                     {"256KiB", 262144}, {"1 GiB", 1ull << 30},  {"2 TiB", 2ull << 40},
                     {"500 KB", 500000}, {"3 GB", 3000000000ull}};
  for (const Case& c : ok) {
    CAPTURE(c.in);
    std::string err;
    auto s = parseSize(c.in, err);
    REQUIRE(s);
    CHECK(*s == c.bytes);
  }
  for (const char* bad : {"", "GiB", "1 gib", "1 XB", "-1", "99999999999 TiB", "512", "10"}) {
    CAPTURE(bad);
    std::string err;
    CHECK_FALSE(parseSize(bad, err));
  }
  std::string err;
  CHECK_FALSE(parseSize("10", err));
  CHECK(err.find("size needs a unit") != std::string::npos);
}

TEST_CASE("every size key refuses a bare number at its own line and column") {
  // max_size = 10 meant as 10 GiB used to load as 10 bytes.
  for (const KeySpec& k : configSchema()) {
    if (k.type != "size") continue;
    std::string path(k.path);
    std::string section = path.substr(0, path.find('.'));
    std::string key = path.substr(path.find('.') + 1);
    CAPTURE(path);
    std::string head = section == "limit" ? "[[limit]]\nfrom = \"lan\"\n" : "[" + section + "]\n";
    std::string policy =
        "[sources]\nlan = [\"10.0.0.0/8\"]\n[destinations]\nweb = { hosts = [\"*\"] }\n"
        "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n";
    int line = section == "limit" ? 3 : 2;
    int col = static_cast<int>(key.size()) + 4;
    for (const char* value : {"10", "\"10\""}) {
      CAPTURE(value);
      LoadResult r = loadConfigText(policy + head + key + " = " + value + "\n", "t.toml");
      std::string text;
      for (const Diagnostic& d : r.diagnostics) text += d.format() + "\n";
      CAPTURE(text);
      CHECK_FALSE(r.config);
      std::string where = "t.toml:" + std::to_string(line + 6) + ":" + std::to_string(col);
      CHECK(text.find(where + ": error: '" + key + "' = " + value +
                      ": size needs a unit: write \"10 ") != std::string::npos);
      CHECK(text.find("(or \"10 B\" for bytes)") != std::string::npos);
    }
    // 0 is 0 in every unit: accepted bare.
    LoadResult zero = loadConfigText(policy + head + key + " = 0\n", "t.toml");
    CHECK(zero.config);
  }
}

TEST_CASE("every schema key appears in both references") {
  std::string md = configReferenceMarkdown();
  std::string roff = configReferenceRoff();
  for (const KeySpec& k : configSchema()) {
    std::string_view path = k.path;
    size_t dot = path.find('.');
    if (dot == std::string_view::npos) {
      CHECK(md.find(path) != std::string::npos);
      continue;
    }
    std::string key(path.substr(dot + 1));
    CAPTURE(key);
    CHECK(md.find("| `" + key + "` |") != std::string::npos);
    std::string roffKey;
    for (char c : key) roffKey += c == '-' ? std::string("\\-") : std::string(1, c);
    CHECK(roff.find(".B " + roffKey + "\n") != std::string::npos);
  }
  CHECK(roff.find(".SS [server]") != std::string::npos);
  CHECK(md.find("### [[rule]]") != std::string::npos);
}

TEST_CASE("the schema's defaults are what the loader uses") {
  LoadResult r = loadConfigText(
      "[sources]\nlan = [\"10.0.0.0/8\"]\n[destinations]\nweb = { hosts = [\"*\"] }\n"
      "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
      "t.toml");
  REQUIRE(r.config);
  const Config& c = *r.config;
  REQUIRE(c.server.listen.size() == 1);
  CHECK(c.server.listen[0].text == findKeySpec("server.listen")->defaultValue.substr(2, 14));
  CHECK(c.server.maxConnections == 10000);
  // Documented as "auto": one worker per core (it was 1 when omitted).
  CHECK(findKeySpec("server.workers")->defaultValue == R"("auto")");
  CHECK(c.server.workers == std::max(1u, std::thread::hardware_concurrency()));
  CHECK(c.server.tunnelIdleTimeout == std::chrono::minutes(5));
  CHECK(c.server.bufferBytes == 256 * 1024);
  CHECK(c.cache.maxObjectSize == 64ull << 20);
  CHECK(c.cache.eviction == EvictionPolicy::kS3Fifo);
  CHECK(c.log.accessFormat == LogFormat::kJson);
  CHECK(c.admin.listen == "127.0.0.1:3129");
}

TEST_CASE("every section key is read into Config") {
  LoadResult r = loadConfigText(R"(
[server]
listen = ["[::1]:8080"]
workers = 3
max_connections = 5
max_connections_per_client = 2
header_timeout = "1s"
client_idle_timeout = "2s"
body_timeout = "3s"
connect_timeout = "4s"
first_byte_timeout = "5s"
upstream_idle_timeout = "6s"
tunnel_idle_timeout = "7s"
shutdown_grace = "8s"
buffer_size = "1 KiB"
max_request_line = "100 B"
max_header_size = "2 KiB"
via_pseudonym = "gate"
user = "nobody"
[dns]
nameservers = ["192.0.2.53", "[2001:db8::53]:53"]
timeout = "1s"
min_ttl = "2s"
max_ttl = "3s"
negative_ttl = "4s"
hosts_file = false
[cache]
enabled = true
dir = "/tmp/c"
max_size = "2 GiB"
max_object_size = "1 MiB"
min_free_disk = "3 MiB"
eviction = "lru"
fsync = "always"
collapsed_forwarding = false
serve_stale_on_error = false
max_stale_on_error = "1h"
range_fetch_whole_max = "4 MiB"
slice_size = "4 MiB"
slice_above = "32 MiB"
[log]
access = "-"
access_format = "combined"
events = "/tmp/e.log"
[admin]
listen = "unix:/run/a.sock"
allow = ["10.0.0.0/8"]
[sources]
lan = { cidrs = ["10.0.0.0/8"] }
[destinations]
web = { hosts = ["*"], ports = [80, "8000-8080"], methods = ["GET"], schemes = ["http"] }
[[rule]]
name = "r"
allow = { from = ["lan"], to = ["web"] }
)",
                                "t.toml");
  std::string text;
  for (const Diagnostic& d : r.diagnostics) text += d.format() + "\n";
  CAPTURE(text);
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.server.listen[0].host == "::1");
  CHECK(c.server.listen[0].port == 8080);
  CHECK(c.server.workers == 3);
  CHECK(c.server.maxConnectionsPerClient == 2);
  CHECK(c.server.shutdownGrace == std::chrono::seconds(8));
  CHECK(c.server.maxRequestLine == 100);
  CHECK(c.server.viaPseudonym == "gate");
  CHECK(c.server.user == "nobody");
  CHECK(c.dns.nameservers.size() == 2);
  CHECK_FALSE(c.dns.useHostsFile);
  CHECK(c.dns.negativeTtl == std::chrono::seconds(4));
  CHECK(c.cache.eviction == EvictionPolicy::kLru);
  CHECK(c.cache.fsync == FsyncPolicy::kAlways);
  CHECK_FALSE(c.cache.collapsedForwarding);
  CHECK(c.cache.rangeFetchWholeMax == 4ull << 20);
  CHECK(c.cache.sliceSize == 4ull << 20);
  CHECK(c.cache.sliceAbove == 32ull << 20);
  CHECK(c.log.accessFormat == LogFormat::kCombined);
  CHECK(c.log.events == "/tmp/e.log");
  CHECK(c.admin.listen == "unix:/run/a.sock");
  CHECK(c.admin.allow == std::vector<std::string>{"10.0.0.0/8"});
}

TEST_CASE("parseListenAddress") {
  std::string err;
  CHECK(parseListenAddress("0.0.0.0:3128", err)->port == 3128);
  CHECK(parseListenAddress("[::]:1", err)->host == "::");
  for (const char* bad : {"3128", "::1:3128", "[::1]", "[::1]3128", "1.2.3.4:", "1.2.3.4:65536",
                          "host:80", ":80"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseListenAddress(bad, err));
  }
}
