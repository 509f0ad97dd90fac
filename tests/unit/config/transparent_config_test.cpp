// [server] listen_transparent and transparent_tls_ports.

#include <doctest/doctest.h>

#include "daemon/config/config_loader.h"
#include "daemon/config/self_endpoints.h"
#include "tests/unit/config/loader_test_util.h"

using namespace portcullis;
using namespace portcullis::config;
using portcullis::config::testing::all;
using portcullis::config::testing::kPolicy;

TEST_CASE("listen_transparent: off by default; TLS on 443 unless told") {
  LoadResult r = loadConfigText(kPolicy, "t.toml");
  REQUIRE(r.config);
  CHECK(r.config->server.listenTransparent.empty());
  CHECK(r.config->server.transparentTlsPorts == std::vector<uint16_t>{443});
}

TEST_CASE("listen_transparent: addresses and TLS ports are read and are the proxy itself") {
  LoadResult r = loadConfigText(
      "[server]\nlisten_transparent = [\"127.0.0.1:3130\", \"[::1]:3130\"]\n"
      "transparent_tls_ports = [443, 8443]\n" +
          kPolicy,
      "t.toml");
  REQUIRE_MESSAGE(r.config, all(r));
  const auto& s = r.config->server;
  REQUIRE(s.listenTransparent.size() == 2);
  CHECK(s.listenTransparent[0].host == "127.0.0.1");
  CHECK(s.listenTransparent[1].port == 3130);
  CHECK(s.transparentTlsPorts == std::vector<uint16_t>{443, 8443});
  // A redirected connection whose original destination is the proxy's own
  // transparent port must not loop: that endpoint is hard:self.
  const auto endpoints = configuredEndpoints(*r.config);
  CHECK(std::count(endpoints.begin(), endpoints.end(),
                   acl::SelfAddresses::Endpoint{*acl::IpAddress::parse("127.0.0.1"), 3130}) == 1);
}

TEST_CASE("listen_transparent: bad values are reported where they are") {
  LoadResult r = loadConfigText(
      "[server]\nlisten_transparent = [\"example.org:80\"]\ntransparent_tls_ports = [0, \"x\"]\n" +
          kPolicy,
      "t.toml");
  CHECK(!r.config);
  const std::string text = all(r);
  CHECK(text.find("t.toml:2:") != std::string::npos);
  CHECK(text.find("'listen_transparent'") != std::string::npos);
  CHECK(text.find("t.toml:3:") != std::string::npos);
  CHECK(text.find("'transparent_tls_ports'") != std::string::npos);
}
