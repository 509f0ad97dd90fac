#include "daemon/proxy/parent_address.h"

#include <doctest/doctest.h>

using namespace portcullis;
using proxy::usableParentAddresses;

namespace {

acl::IpAddress ip(const char* text) {
  return *acl::IpAddress::parse(text);
}

}  // namespace

TEST_CASE("usableParentAddresses: private and loopback are fine, the proxy itself is not") {
  const acl::SelfAddresses self({{ip("127.0.0.1"), 3128}, {ip("0.0.0.0"), 8080}}, {ip("10.0.0.5")});
  SUBCASE("private and loopback addresses, and our own address on another port") {
    auto r = usableParentAddresses({ip("10.1.2.3"), ip("127.0.0.1"), ip("192.168.0.1"), ip("::1")},
                                   3129, &self);
    CHECK(r.usable.size() == 4);
    CHECK(r.refused.empty());
  }
  SUBCASE("a listen address, and any local address of a wildcard listen (hard:self)") {
    CHECK(usableParentAddresses({ip("127.0.0.1")}, 3128, &self).refused ==
          "127.0.0.1:3128 is the proxy itself (hard:self)");
    CHECK(usableParentAddresses({ip("10.0.0.5")}, 8080, &self).usable.empty());
    CHECK(usableParentAddresses({ip("127.0.0.9")}, 8080, &self).usable.empty());
    CHECK(usableParentAddresses({ip("::1")}, 8080, &self).refused ==
          "[::1]:8080 is the proxy itself (hard:self)");
  }
  SUBCASE("the others of a name's addresses are kept, in order") {
    auto r =
        usableParentAddresses({ip("127.0.0.1"), ip("192.0.2.7"), ip("192.0.2.6")}, 3128, &self);
    CHECK(r.usable == std::vector{ip("192.0.2.7"), ip("192.0.2.6")});
    CHECK(r.refused.empty());
  }
  SUBCASE("no unicast destination") {
    for (const char* a : {"0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255",
                          "::", "ff02::1"}) {
      CAPTURE(a);
      auto r = usableParentAddresses({ip(a)}, 3129, &self);
      CHECK(r.usable.empty());
      CHECK(r.refused.find("is not a unicast address") != std::string::npos);
    }
  }
  SUBCASE("an empty answer, and no self addresses known") {
    CHECK(usableParentAddresses({}, 3128, &self).refused == "no address");
    CHECK(usableParentAddresses({ip("127.0.0.1")}, 3128, nullptr).usable.size() == 1);
  }
}
