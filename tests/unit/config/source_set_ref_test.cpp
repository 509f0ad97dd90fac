#include "daemon/config/source_set_ref.h"

#include <doctest/doctest.h>

#include "acl/policy_impl.h"
#include "daemon/config/config_loader.h"
#include "loader_test_util.h"

using namespace portcullis::config;
using portcullis::config::testing::all;

TEST_CASE("from = <source set>: one reader for [[limit]], [[sni]] and [[safe_search]]") {
  const std::string policy =
      "[sources]\nlan = [\"10.0.0.0/8\"]\nguests = [\"192.168.9.0/24\"]\n"
      "[destinations]\nweb = { hosts = [\"*\"], ports = [80, 443] }\n"
      "[[rule]]\nallow = { from = [\"lan\", \"guests\"], to = \"web\" }\n";

  auto good = loadConfigText(policy +
                                 "[[limit]]\nfrom = \"lan\"\nrequests_per_second = 5\n"
                                 "[[sni]]\nfrom = \"guests\"\n",
                             "t.toml", ".");
  REQUIRE_MESSAGE(good.config, all(good));
  REQUIRE(good.config->limits.size() == 1);
  REQUIRE(good.config->sni.size() == 1);
  const auto& sources = good.config->policy->impl().sources;
  CHECK(sources[good.config->limits[0].sourceIndex].name == "lan");
  CHECK(sources[good.config->sni[0].sourceIndex].name == "guests");

  // Every misuse in one pass, each at its own line, each naming the sets that exist.
  auto bad = loadConfigText(policy +
                                "[[limit]]\nfrom = \"pupils\"\nrequests_per_second = 5\n"
                                "[[sni]]\nno_sni = \"allow\"\n"
                                "[[safe_search]]\nfrom = \"staff\"\n",
                            "t.toml", ".");
  CHECK_FALSE(bad.config);
  const std::string text = all(bad);
  CHECK(text.find(":9:8: error: [[limit]] 'from' names 'pupils', which is not a source set "
                  "(defined: guests, lan)") != std::string::npos);
  CHECK(text.find("[[sni]] needs 'from', the source set it applies to, e.g. from = \"guests\"") !=
        std::string::npos);
  CHECK(text.find(":14:8: error: [[safe_search]] 'from' names 'staff'") != std::string::npos);
}
