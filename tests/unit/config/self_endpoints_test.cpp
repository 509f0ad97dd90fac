#include <doctest/doctest.h>

#include <algorithm>

#include "daemon/config/config_loader.h"
#include "daemon/config/self_endpoints.h"

using namespace portcullis;
using namespace portcullis::config;

namespace {
acl::IpAddress ip(const char* s) {
  return *acl::IpAddress::parse(s);
}
bool has(const std::vector<acl::IpAddress>& v, const acl::IpAddress& a) {
  return std::find(v.begin(), v.end(), a) != v.end();
}
}  // namespace

TEST_CASE("local interface addresses, with and without netlink") {
  auto all = localInterfaceAddresses();
  auto fallback = localInterfaceAddressesWithoutNetlink();
  CHECK(has(all, ip("127.0.0.1")));
  CHECK(has(fallback, ip("127.0.0.1")));
  // Every IPv4 address the fallback finds is one getifaddrs finds too.
  for (const auto& a : fallback) {
    CAPTURE(a.toString());
    CHECK(has(all, a));
  }
}

TEST_CASE("a wildcard listen makes every interface address self; bound ports replace port 0") {
  auto loaded = loadConfigText(R"(
[server]
listen = ["0.0.0.0:0"]
[admin]
listen = "127.0.0.1:0"
[sources]
lan = ["127.0.0.1/32"]
[destinations]
lo = { cidrs = ["127.0.0.0/8"] }
[[rule]]
allow = { from = "lan", to = "lo" }
)",
                               "wild.toml");
  REQUIRE(loaded.config);
  bool noted =
      std::any_of(loaded.diagnostics.begin(), loaded.diagnostics.end(), [](const Diagnostic& d) {
        return d.severity == Severity::kNote && d.line == 3 &&
               d.message.find("every local address") != std::string::npos;
      });
  CHECK(noted);
  const auto& before = loaded.config->policy->selfAddresses();
  CHECK_FALSE(before.reaches(ip("127.0.0.1"), 4321));
  auto bound = withBoundEndpoints(*loaded.config, {{ip("0.0.0.0"), 4321}, {ip("127.0.0.1"), 4322}});
  const auto& self = bound->policy->selfAddresses();
  for (const auto& a : localInterfaceAddresses()) {
    CAPTURE(a.toString());
    CHECK(self.reaches(a, 4321));
  }
  CHECK(self.reaches(ip("127.0.0.1"), 4322));
  CHECK(self.reaches(ip("0.0.0.0"), 4322));
  CHECK_FALSE(self.reaches(ip("127.0.0.2"), 4322));
  // The loaded config is not changed: it may be shared already.
  CHECK_FALSE(loaded.config->policy->selfAddresses().reaches(ip("127.0.0.1"), 4321));
}
