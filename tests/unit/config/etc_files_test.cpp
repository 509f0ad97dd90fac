// Every config shipped in etc/ loads with no error and no warning, and
// behaves as its comments say.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "daemon/config/config_loader.h"

using namespace portcullis;
using namespace portcullis::config;

namespace {
const std::filesystem::path kEtc = std::filesystem::path(__FILE__).parent_path() / "../../../etc";

std::vector<std::filesystem::path> shippedConfigs() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kEtc)) {
    // cache-aliases/ holds snippets to append to a config, tested below.
    if (e.path().parent_path().filename() == "cache-aliases") continue;
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

namespace {
std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

http::Target target(std::string_view uri) {
  return http::parseAbsoluteForm(uri).value();
}

const char* kAliasBase =
    "[sources]\nlan = [\"10.0.0.0/8\"]\n"
    "[destinations]\nweb = { hosts = [\"*\"], ports = [80] }\n"
    "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n";
}  // namespace

TEST_CASE("etc/cache-aliases: each set, and all of them together, load with no diagnostic") {
  std::string together = kAliasBase;
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kEtc / "cache-aliases")) {
    if (e.path().extension() != ".toml") continue;
    ++files;
    const std::string text = readFile(e.path());
    CAPTURE(e.path().string());
    // Each file says where its list comes from.
    CHECK(text.find("\"cache-domains\"") != std::string::npos);
    CHECK(text.find("https://github.com/uklans/cache-domains") != std::string::npos);
    LoadResult one = loadConfigText(std::string(kAliasBase) + text, e.path().string());
    std::string diags;
    for (const Diagnostic& d : one.diagnostics) diags += d.format() + "\n";
    CAPTURE(diags);
    CHECK(one.config != nullptr);
    CHECK(one.diagnostics.empty());
    together += text;
  }
  CHECK(files >= 4);
  LoadResult all = loadConfigText(together, "together.toml");
  REQUIRE(all.config);
  CHECK(all.diagnostics.empty());
  const auto& rules = *all.config->cache.rules;
  CHECK(rules.primaryKey(target("http://cache1-fra1.steamcontent.com/depot/1/chunk/a")) ==
        rules.primaryKey(target("http://steampipe.akamaized.net/depot/1/chunk/a")));
  CHECK(rules.primaryKey(target("http://deb.debian.org/debian/pool/main/a/a.deb")) ==
        "http://debian.cache-alias.invalid/debian/pool/main/a/a.deb");
  CHECK(rules.primaryKey(target("http://gb.archive.ubuntu.com/ubuntu/pool/a.deb")) ==
        rules.primaryKey(target("http://archive.ubuntu.com/ubuntu/pool/a.deb")));
  CHECK(rules.primaryKey(target("http://www.example.org/x")) == "http://www.example.org/x");
}

TEST_CASE("etc/ configs turn no alias on by default") {
  for (const auto& f : shippedConfigs()) {
    LoadResult r = loadConfigFile(f.string());
    REQUIRE(r.config);
    CHECK(r.config->cache.rules->aliases.empty());
  }
}

TEST_CASE("school example: Debian and Ubuntu pool files get a refresh rule, indexes do not") {
  LoadResult r = loadConfigFile((kEtc / "examples/school.toml").string());
  REQUIRE(r.config);
  const auto& rules = *r.config->cache.rules;
  for (const char* uri :
       {"http://deb.debian.org/debian/pool/main/a/apt/apt_2.6.1_amd64.deb",
        "http://security.debian.org/debian-security/pool/updates/main/o/openssl/x.deb",
        "http://gb.archive.ubuntu.com/ubuntu/pool/main/a/apt/apt.deb"}) {
    CAPTURE(uri);
    const auto* rule = rules.refreshFor(target(uri));
    REQUIRE(rule != nullptr);
    CHECK(rule->heuristic.minSeconds == 30 * 86400);
  }
  CHECK(rules.refreshFor(target("http://deb.debian.org/debian/dists/bookworm/InRelease")) ==
        nullptr);
  CHECK(rules.refreshFor(target("http://www.example.org/pool/x.deb")) == nullptr);
}
