#include "daemon/net/hosts_file.h"

#include <doctest/doctest.h>

using namespace portcullis;

TEST_CASE("hosts file parsing") {
  auto table = net::parseHostsFile(
      "# comment\n127.0.0.1\tlocalhost LocalHost.localdomain\n::1 localhost ip6-localhost\n"
      "bad-address name\n10.0.0.1   gateway # trailing comment\n\n192.168.0.9\n");
  REQUIRE(table.count("localhost") == 1);
  CHECK(table["localhost"].size() == 2);
  CHECK(table["localhost"][0].toString() == "127.0.0.1");
  CHECK(table["localhost"][1].toString() == "::1");
  CHECK(table.count("localhost.localdomain") == 1);
  CHECK(table["gateway"].at(0).toString() == "10.0.0.1");
  CHECK(table.count("name") == 0);
  CHECK(table.count("comment") == 0);
}
