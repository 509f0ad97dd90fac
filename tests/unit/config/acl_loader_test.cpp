// The ACL loader's output asked through the Policy: the sets and rules a
// config writes are what the proxy decides. This crosses pc_config and pc_acl,
// so it also catches the two libraries disagreeing on the layout of
// acl::DestinationSet (a stale object file in a build tree did exactly that:
// ports read from the wrong offset, CONNECT refused as hard:connect-port).
#include <doctest/doctest.h>

#include <span>
#include <string>

#include "acl/policy.h"
#include "acl/policy_impl.h"
#include "daemon/config/config_loader.h"

using namespace portcullis::config;
using portcullis::acl::IpAddress;
using portcullis::acl::RequestFacts;

namespace {
IpAddress ip(const char* s) { return *IpAddress::parse(s); }

const char* kConfig =
    "[server]\nlisten = [\"127.0.0.1:0\"]\n"
    "[sources]\nlocal = [\"127.0.0.1/32\"]\n"
    "[destinations]\n"
    "names = { hosts = [\"*.example.org\"], ports = [8443] }\n"
    "origin = { cidrs = [\"127.0.0.0/8\"], ports = [18080, \"19000-19010\"] }\n"
    "[[rule]]\nname = \"n\"\nallow = { from = \"local\", to = \"names\" }\n"
    "[[rule]]\nname = \"r\"\nallow = { from = \"local\", to = \"origin\" }\n";
}  // namespace

TEST_CASE("the loaded sets hold what the config wrote") {
  LoadResult r = loadConfigText(kConfig, "t.toml", "");
  REQUIRE(r.config);
  const auto& impl = r.config->policy->impl();
  REQUIRE(impl.destinations.size() == 2);
  const portcullis::acl::DestinationSet& origin = impl.destinations[1];
  CHECK(origin.name == "origin");
  REQUIRE(origin.ports.size() == 2);
  CHECK(origin.ports[0].first == 18080);
  CHECK(origin.ports[0].last == 18080);
  CHECK(origin.ports[1].first == 19000);
  CHECK(origin.ports[1].last == 19010);
  CHECK(origin.cidrs.contains(ip("127.0.0.1")));
  CHECK(origin.openedSpecial.contains(ip("127.0.0.1")));
  CHECK(impl.destinations[0].hosts.contains("www.example.org"));
  CHECK(impl.destinations[0].ports.size() == 1);
}

TEST_CASE("a set with cidrs and ports: the loaded policy allows what it names") {
  LoadResult r = loadConfigText(kConfig, "t.toml", "");
  REQUIRE(r.config);
  const portcullis::acl::Policy& policy = *r.config->policy;
  struct Case {
    const char* host; uint16_t port; bool connect; bool resolved; bool allowed; const char* rule;
  };
  const Case cases[] = {
      {"127.0.0.1", 18080, true, true, true, "r"},
      {"127.0.0.1", 18080, false, true, true, "r"},
      {"127.0.0.1", 19005, true, true, true, "r"},
      {"127.0.0.1", 18081, false, true, false, "default-deny"},
      {"127.0.0.1", 18081, true, true, false, "hard:connect-port"},
      {"www.example.org", 8443, true, false, true, "n"},
      {"www.example.org", 8444, true, false, false, "hard:connect-port"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.host);
    CAPTURE(k.port);
    CAPTURE(k.connect);
    IpAddress addr = ip("127.0.0.1");
    RequestFacts f;
    f.client = ip("127.0.0.1");
    f.host = k.host;
    f.port = k.port;
    f.isConnect = k.connect;
    f.method = k.connect ? "CONNECT" : "GET";
    f.scheme = k.connect ? "" : "http";
    if (k.resolved) f.addresses = std::span<const IpAddress>(&addr, 1);
    portcullis::acl::Decision d = policy.evaluate(f);
    CAPTURE(d.reason);
    CHECK(d.allowed() == k.allowed);
    CHECK(d.rule == k.rule);
  }
}
