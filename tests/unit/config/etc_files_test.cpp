// Every config shipped in etc/ loads with no error and no warning, and
// behaves as its comments say.
#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

#include "daemon/config/config_loader.h"

using namespace portcullis;
using namespace portcullis::config;

namespace {
const std::filesystem::path kEtc = std::filesystem::path(__FILE__).parent_path() / "../../../etc";

std::vector<std::filesystem::path> shippedConfigs() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kEtc)) {
    if (e.path().extension() == ".toml") out.push_back(e.path());
  }
  return out;
}

acl::Decision ask(const Config& c, const char* client, const char* host, uint16_t port,
                  const char* addr, bool connect = false) {
  acl::IpAddress a = *acl::IpAddress::parse(addr);
  acl::RequestFacts f;
  f.client = *acl::IpAddress::parse(client);
  f.method = connect ? "CONNECT" : "GET";
  f.scheme = connect ? "" : "http";
  f.host = host;
  f.port = port;
  f.isConnect = connect;
  f.addresses = std::span<const acl::IpAddress>(&a, 1);
  return c.policy->evaluate(f);
}
}  // namespace

TEST_CASE("every etc/ config loads cleanly") {
  auto files = shippedConfigs();
  CHECK(files.size() >= 3);
  for (const auto& f : files) {
    CAPTURE(f.string());
    LoadResult r = loadConfigFile(f.string());
    std::string text;
    for (const Diagnostic& d : r.diagnostics) text += d.format() + "\n";
    CAPTURE(text);
    CHECK(r.config != nullptr);
    CHECK(r.diagnostics.empty());
  }
}

TEST_CASE("quick start: loopback clients, public web only") {
  LoadResult r = loadConfigFile((kEtc / "portcullis.toml").string());
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(ask(c, "127.0.0.1", "example.org", 80, "93.184.216.34").allowed());
  CHECK(ask(c, "::1", "example.org", 443, "93.184.216.34", true).allowed());
  CHECK_FALSE(ask(c, "192.0.2.1", "example.org", 80, "93.184.216.34").allowed());
  CHECK_FALSE(ask(c, "127.0.0.1", "example.org", 8080, "93.184.216.34").allowed());
  CHECK(ask(c, "127.0.0.1", "intranet", 80, "10.0.0.1").rule == "hard:special-address");
  CHECK(ask(c, "127.0.0.1", "127.0.0.1", 3128, "127.0.0.1").rule == "hard:self");
}

TEST_CASE("school example: blocklist, intranet, classrooms") {
  LoadResult r = loadConfigFile((kEtc / "examples/school.toml").string());
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.cache.enabled);
  CHECK(ask(c, "10.20.1.1", "www.games.example", 80, "93.184.216.34").rule == "blocklist");
  CHECK(ask(c, "10.20.1.1", "x.ads.example", 80, "93.184.216.34").rule == "blocklist");
  // blocklist.txt says "*.ads.example": the domain itself is blocked too.
  CHECK(ask(c, "10.20.1.1", "ads.example", 80, "93.184.216.34").rule == "blocklist");
  CHECK(ask(c, "10.20.1.1", "tracker.example", 443, "93.184.216.34").rule == "blocklist");
  CHECK(ask(c, "10.20.1.1", "www.example.org", 80, "93.184.216.34").rule == "classrooms-web");
  CHECK(ask(c, "10.30.1.1", "wiki.school.example", 80, "10.99.0.5").rule == "intranet");
  CHECK(ask(c, "10.20.1.1", "router.home", 80, "192.168.1.1").rule == "hard:special-address");
  CHECK(ask(c, "10.40.1.1", "www.example.org", 80, "93.184.216.34").rule == "default-deny");
}

TEST_CASE("isp example: customers only, CONNECT to named ports") {
  LoadResult r = loadConfigFile((kEtc / "examples/isp.toml").string());
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.server.maxConnections == 200000);
  CHECK(ask(c, "198.51.100.7", "example.org", 443, "93.184.216.34", true).allowed());
  CHECK(ask(c, "198.51.100.7", "mail.example.org", 993, "93.184.216.34", true).allowed());
  CHECK(ask(c, "198.51.100.7", "example.org", 22, "93.184.216.34", true).rule == "hard:connect-port");
  CHECK(ask(c, "203.0.113.66", "example.org", 80, "93.184.216.34").rule == "abuse-block");
  CHECK(ask(c, "192.0.2.200", "example.org", 80, "93.184.216.34").rule == "default-deny");
  CHECK(ask(c, "2001:db8:1000::5", "example.org", 25, "93.184.216.34").rule == "hard:port-25");
}
