#include "daemon/config/sni_loader.h"

#include <doctest/doctest.h>

#include "acl/ip_address.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/safe_search.h"
#include "loader_test_util.h"

using namespace portcullis::config;
using portcullis::config::testing::all;
using portcullis::config::testing::kPolicy;

TEST_CASE("[server] sni_* keys and [[sni]] tables: defaults, values, errors") {
  auto defaults = loadConfigText(kPolicy, "t.toml", ".");
  REQUIRE(defaults.config);
  CHECK(defaults.config->server.sniCheck);
  CHECK(defaults.config->server.sniTimeout.count() == 10000);
  CHECK(defaults.config->server.sniMaxBytes == 16384);
  CHECK(defaults.config->sni.empty());
  const SniRuleConfig d{};
  CHECK((d.check && d.noSni == TlsChoice::kDeny && d.notTls == TlsChoice::kDeny &&
         d.ech == TlsChoice::kAllow));

  auto set = loadConfigText(
      "[server]\nsni_check = false\nsni_timeout = \"2s\"\nsni_max_size = \"4 KiB\"\n" + kPolicy +
          "[[sni]]\nfrom = \"lan\"\nno_sni = \"allow\"\nnot_tls = \"allow\"\nech = \"deny\"\n"
          "check = false\n",
      "t.toml", ".");
  REQUIRE_MESSAGE(set.config, all(set));
  CHECK_FALSE(set.config->server.sniCheck);
  CHECK(set.config->server.sniTimeout.count() == 2000);
  CHECK(set.config->server.sniMaxBytes == 4096);
  REQUIRE(set.config->sni.size() == 1);
  const SniRuleConfig& r = set.config->sni[0];
  CHECK((!r.check && r.noSni == TlsChoice::kAllow && r.notTls == TlsChoice::kAllow &&
         r.ech == TlsChoice::kDeny));

  auto bad = loadConfigText("[server]\nsni_max_size = \"1 MiB\"\n" + kPolicy +
                                "[[sni]]\nfrom = \"nobody\"\n[[sni]]\nfrom = \"lan\"\n"
                                "ech = \"maybe\"\n[[sni]]\nno_sni = \"allow\"\n",
                            "t.toml", ".");
  CHECK_FALSE(bad.config);
  const std::string text = all(bad);
  CHECK(text.find("'sni_max_size' must be from 512 B to 64 KiB") != std::string::npos);
  CHECK(text.find("'from' names 'nobody', which is not a source set") != std::string::npos);
  CHECK(text.find("'ech' must be \"allow\" or \"deny\", not \"maybe\"") != std::string::npos);
  CHECK(text.find("[[sni]] needs 'from'") != std::string::npos);
}

TEST_CASE("describeSniCheck: what explain says for a CONNECT") {
  auto r = loadConfigText(kPolicy + "[[sni]]\nfrom = \"lan\"\nech = \"deny\"\n", "t.toml", ".");
  REQUIRE(r.config);
  const auto lan = *portcullis::acl::IpAddress::parse("10.1.2.3");
  const auto other = *portcullis::acl::IpAddress::parse("192.0.2.1");
  const std::string forLan = describeSniCheck(*r.config, lan, "www.example.org");
  CHECK(forLan.find("must name www.example.org") != std::string::npos);
  CHECK(forLan.find("hard:sni-mismatch") != std::string::npos);
  CHECK(forLan.find("Encrypted Client Hello offered: deny ([[sni]] from = \"lan\")") !=
        std::string::npos);
  CHECK(describeSniCheck(*r.config, other, "x").find("ECH") == std::string::npos);
  CHECK(describeSniCheck(*r.config, other, "x").find("Encrypted Client Hello offered: allow") !=
        std::string::npos);
}

TEST_CASE("[[safe_search]]: the shipped lists, modes and errors") {
  const std::string lists = std::string(PORTCULLIS_SOURCE_ROOT_FOR_TESTS) + "/etc/safe-search";
  auto r = loadConfigText(kPolicy +
                              "[[safe_search]]\nfrom = \"lan\"\ngoogle = \"strict\"\n"
                              "youtube = \"moderate\"\nlists = \"" +
                              lists + "\"\n",
                          "t.toml", ".");
  REQUIRE_MESSAGE(r.config, all(r));
  CHECK(r.diagnostics.empty());
  const auto lan = *portcullis::acl::IpAddress::parse("10.1.2.3");
  const auto other = *portcullis::acl::IpAddress::parse("192.0.2.1");
  const auto& policy = *r.config->policy;
  auto google = safeSearchFor(r.config->safeSearch, policy, lan, "www.google.co.uk");
  REQUIRE(google);
  CHECK(google->safeName == "forcesafesearch.google.com");
  auto yt = safeSearchFor(r.config->safeSearch, policy, lan, "m.youtube.com");
  REQUIRE(yt);
  CHECK(yt->safeName == "restrictmoderate.youtube.com");
  CHECK_FALSE(safeSearchFor(r.config->safeSearch, policy, lan, "www.bing.com"));  // off
  CHECK_FALSE(safeSearchFor(r.config->safeSearch, policy, lan, "mail.google.com"));
  CHECK_FALSE(safeSearchFor(r.config->safeSearch, policy, other, "www.google.com"));

  auto bad = loadConfigText(kPolicy +
                                "[[safe_search]]\nfrom = \"lan\"\ngoogle = \"moderate\"\n"
                                "bing = \"strict\"\nlists = \"/nonexistent\"\n",
                            "t.toml", ".");
  CHECK_FALSE(bad.config);
  CHECK(all(bad).find("'google' must be \"off\", \"strict\", not \"moderate\"") !=
        std::string::npos);
  CHECK(all(bad).find("cannot read safe-search list '/nonexistent/bing.txt'") != std::string::npos);
}
