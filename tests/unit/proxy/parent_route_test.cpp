#include "daemon/proxy/parent_route.h"

#include <doctest/doctest.h>

#include "daemon/config/config_loader.h"

using namespace portcullis;
using proxy::chooseParents;
using proxy::ParentHealth;
using proxy::toParentHead;

namespace {

const char* kConfig = R"(
[sources]
lan = ["10.0.0.0/8"]
[destinations]
web = { hosts = ["*"], ports = [80, 443] }
intranet = { hosts = ["*.school.test"], ports = [80] }
[[rule]]
allow = { from = "lan", to = ["web", "intranet"] }
[[parent]]
name = "a"
address = "192.0.2.1:3128"
to = ["web"]
[[parent]]
name = "b"
address = "192.0.2.2:3128"
to = ["web"]
[[parent]]
name = "school"
address = "192.0.2.3:8080"
to = ["intranet"]
)";

acl::RequestFacts facts(const char* host, uint16_t port, const char* method = "GET") {
  acl::RequestFacts f;
  f.client = *acl::IpAddress::parse("10.0.0.1");
  f.method = method;
  f.scheme = "http";
  f.host = host;
  f.port = port;
  return f;
}

std::vector<std::string> names(const proxy::ParentRoute& r) {
  std::vector<std::string> out;
  for (const auto& h : r.hops) out.push_back(h.name);
  return out;
}

}  // namespace

TEST_CASE("chooseParents: by destination set, health and never_direct") {
  auto loaded = config::loadConfigText(kConfig, "t.toml");
  REQUIRE(loaded.config);
  const auto& cfg = *loaded.config;
  ParentHealth health;
  const auto now = std::chrono::steady_clock::now();
  auto web = chooseParents(cfg, facts("example.org", 80, "POST"), false, "", &health, now);
  CHECK(names(web) == std::vector<std::string>{"a", "b"});  // file order, not hashed
  CHECK(web.hops[0].address.toString() == "192.0.2.1:3128");
  auto intranet = chooseParents(cfg, facts("wiki.school.test", 80), true,
                                "http://wiki.school.test/", &health, now);
  // web matches any host, so a and b apply too; the hash orders all three.
  CHECK(intranet.hops.size() == 3);
  auto none = chooseParents(cfg, facts("example.org", 8080), false, "", &health, now);
  CHECK_FALSE(none.applies);
  CHECK(none.hops.empty());

  health.state("a").markDown(now, std::chrono::seconds(30));
  CHECK(names(chooseParents(cfg, facts("example.org", 80, "POST"), false, "", &health, now)) ==
        std::vector<std::string>{"b"});
  health.state("b").markDown(now, std::chrono::seconds(30));
  auto down = chooseParents(cfg, facts("example.org", 80, "POST"), false, "", &health, now);
  CHECK(down.applies);
  CHECK(down.hops.empty());  // direct
  // Up again once retry_after has passed.
  CHECK(chooseParents(cfg, facts("example.org", 80, "POST"), false, "", &health,
                      now + std::chrono::seconds(31))
            .hops.size() == 2);

  auto strict =
      config::loadConfigText(std::string(kConfig) + "[parents]\nnever_direct = true\n", "t.toml");
  REQUIRE(strict.config);
  CHECK(names(chooseParents(*strict.config, facts("example.org", 80, "POST"), false, "", &health,
                            now)) == std::vector<std::string>{"a", "b"});  // tried anyway
}

TEST_CASE("toParentHead: absolute form and our credentials for that parent") {
  http::Target t;
  t.scheme = "http";
  t.host = "example.org";
  t.port = 8080;
  t.pathAndQuery = "/a?b=c";
  proxy::ParentHop hop;
  const std::string head = "GET /a?b=c HTTP/1.1\r\nHost: example.org:8080\r\nVia: 1.1 x\r\n\r\n";
  CHECK(toParentHead(head, t, hop) ==
        "GET http://example.org:8080/a?b=c HTTP/1.1\r\nHost: example.org:8080\r\nVia: 1.1 "
        "x\r\n\r\n");
  hop.authorization = "Basic dTpw";
  CHECK(toParentHead(head, t, hop) ==
        "GET http://example.org:8080/a?b=c HTTP/1.1\r\nHost: example.org:8080\r\nVia: 1.1 "
        "x\r\nProxy-Authorization: Basic dTpw\r\n\r\n");
}

TEST_CASE("chooseParents: a parent given by name is resolved when tried, not here") {
  auto loaded = config::loadConfigText(R"(
[sources]
lan = ["10.0.0.0/8"]
[destinations]
web = { hosts = ["*"], ports = [80] }
[[rule]]
allow = { from = "lan", to = "web" }
[[parent]]
name = "district"
address = "Proxy.District.example:3128"
[[parent]]
name = "v6"
address = "[2001:db8::1]:3128"
)",
                                       "t.toml");
  REQUIRE(loaded.config);
  auto route = chooseParents(*loaded.config, facts("example.org", 80, "POST"), false, "", nullptr,
                             std::chrono::steady_clock::now());
  REQUIRE(route.hops.size() == 2);
  CHECK(route.hops[0].hostName == "proxy.district.example");
  CHECK(route.hops[0].port == 3128);
  CHECK(route.hops[1].hostName.empty());
  CHECK(route.hops[1].address.toString() == "[2001:db8::1]:3128");
}
