// [pac] validation (every problem at file:line:col) and the generated file's
// data. The file's behaviour in a JavaScript engine is checked by
// tests/integration/test_pac.py (node, a table of URLs).
#include <doctest/doctest.h>

#include "../config/loader_test_util.h"
#include "daemon/config/config_loader.h"
#include "daemon/pac/pac_file.h"

namespace portcullis::pac {
namespace {

using config::loadConfigText;
using config::testing::all;
using config::testing::kPolicy;

const std::string kIntranet =
    "[destinations.intranet]\nhosts = [\"*.school.example\", \"wiki.example\"]\n"
    "cidrs = [\"10.50.0.0/16\"]\n";

TEST_CASE("[pac] proxies become PAC entries in order; default: the server.listen addresses") {
  auto named = loadConfigText(kPolicy +
                                  "[pac]\nproxies = [\"https://p.example:3130\", "
                                  "\"http://p.example:3128/\", \"[2001:db8::1]:3128\"]\n",
                              "t.toml", ".");
  REQUIRE_MESSAGE(named.config, all(named));
  CHECK(named.config->pac.proxies == std::vector<std::string>{"HTTPS p.example:3130",
                                                              "PROXY p.example:3128",
                                                              "PROXY [2001:db8::1]:3128"});
  auto derived = loadConfigText(
      "[server]\nlisten = [\"192.0.2.1:3128\", \"[2001:db8::2]:8080\"]\n" + kPolicy, "t.toml", ".");
  REQUIRE_MESSAGE(derived.config, all(derived));
  CHECK(derived.config->pac.proxies ==
        std::vector<std::string>{"PROXY 192.0.2.1:3128", "PROXY [2001:db8::2]:8080"});
}

TEST_CASE("[pac] errors are all reported, each at its place") {
  auto r = loadConfigText("[server]\nlisten = [\"0.0.0.0:3128\"]\n" + kPolicy +
                              "[pac]\n"
                              "listen = [\"127.0.0.1:8080\", \"nowhere\"]\n"
                              "direct = [\"intranet\"]\n",
                          "t.toml", ".");
  CHECK_FALSE(r.config);
  const std::string text = all(r);
  CHECK(text.find("t.toml:10:29: error: 'listen'") != std::string::npos);
  CHECK(
      text.find("t.toml:11:11: error: 'direct' names 'intranet', which is not a destination set") !=
      std::string::npos);
  CHECK(text.find("'listen' needs 'clients'") != std::string::npos);
  CHECK(text.find("[pac] needs 'proxies': server.listen '0.0.0.0:3128'") != std::string::npos);

  auto bad = loadConfigText(kPolicy +
                                "[pac]\nproxies = [\"socks5://p:1080\", \"p\"]\n"
                                "clients = [\"pupils\"]\n",
                            "t.toml", ".");
  const std::string badText = all(bad);
  CHECK(badText.find("t.toml:8:12: error: 'proxies': only http:// and https://") !=
        std::string::npos);
  CHECK(badText.find("t.toml:8:31: error: 'proxies':") != std::string::npos);
  CHECK(badText.find("'clients' names 'pupils', which is not a source set") != std::string::npos);
}

TEST_CASE("sets named only by [pac] are not reported unused; fallback_direct warns") {
  auto r = loadConfigText(kPolicy + kIntranet +
                              "[pac]\nclients = [\"lan\"]\ndirect = [\"intranet\"]\n"
                              "fallback_direct = true\n",
                          "t.toml", ".");
  REQUIRE_MESSAGE(r.config, all(r));
  CHECK(all(r).find("not used by any rule") == std::string::npos);
  CHECK(all(r).find("'fallback_direct = true'") != std::string::npos);
}

TEST_CASE("the generated file carries the proxies, the direct sets and the special ranges") {
  auto r = loadConfigText(kPolicy + kIntranet +
                              "[pac]\nproxies = [\"p.example:3128\"]\n"
                              "direct = [\"intranet\"]\n",
                          "t.toml", ".");
  REQUIRE_MESSAGE(r.config, all(r));
  const std::string pac = renderPacFile(*r.config);
  CHECK(pac.find("var pcProxies = \"PROXY p.example:3128\";") != std::string::npos);
  CHECK(pac.find("\"wiki.example\": 1") != std::string::npos);
  CHECK(pac.find("\"school.example\": 2") != std::string::npos);  // the name and its subdomains
  CHECK(pac.find("[\"00000000000000000000ffff0a320000\", \"00000000000000000000ffff0a32ffff\"]") !=
        std::string::npos);
  // 10.0.0.0/8 (private-use) is refused unless opened: listed as special.
  CHECK(
      pac.find("[\"00000000000000000000ffff0a000000\", \"00000000000000000000ffff0affffff\", 1]") !=
      std::string::npos);
  CHECK(pac.find("function FindProxyForURL(url, host)") != std::string::npos);
  CHECK(renderPacFile(*r.config) == pac);  // deterministic: the same config, the same bytes
}

TEST_CASE("fallback_direct appends DIRECT; without it a proxy outage is no bypass") {
  auto off = loadConfigText(kPolicy + "[pac]\nproxies = [\"p.example:3128\"]\n", "t.toml", ".");
  auto on = loadConfigText(
      kPolicy + "[pac]\nproxies = [\"p.example:3128\"]\nfallback_direct = true\n", "t.toml", ".");
  REQUIRE(off.config);
  REQUIRE(on.config);
  CHECK(renderPacFile(*off.config).find("\"PROXY p.example:3128\";") != std::string::npos);
  CHECK(renderPacFile(*on.config).find("\"PROXY p.example:3128; DIRECT\";") != std::string::npos);
}

}  // namespace
}  // namespace portcullis::pac
