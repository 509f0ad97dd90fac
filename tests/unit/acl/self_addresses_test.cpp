#include <doctest/doctest.h>

#include "acl/self_addresses.h"

using namespace portcullis::acl;

namespace {
IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}
}  // namespace

TEST_CASE("self addresses: specific and wildcard listens") {
  struct Case {
    const char* addr;
    uint16_t port;
    bool self;
  };
  SUBCASE("specific listen: its address, and the unspecified address") {
    SelfAddresses s({{ip("127.0.0.1"), 3128}, {ip("::1"), 9090}}, {});
    CHECK_FALSE(s.hasWildcard());
    const Case cases[] = {
        {"127.0.0.1", 3128, true}, {"0.0.0.0", 3128, true},    {"0.1.2.3", 3128, true},
        {"::", 3128, true},        {"127.0.0.2", 3128, false}, {"127.0.0.1", 3129, false},
        {"::1", 9090, true},       {"::1", 3128, false},       {"10.0.0.1", 3128, false},
    };
    for (const Case& c : cases) {
      CAPTURE(c.addr);
      CAPTURE(c.port);
      CHECK(s.reaches(ip(c.addr), c.port).has_value() == c.self);
    }
  }
  SUBCASE("wildcard listen: every local address") {
    for (const char* any : {"0.0.0.0", "::"}) {
      CAPTURE(any);
      SelfAddresses s({{ip(any), 3128}}, {ip("192.168.1.20"), ip("2001:db8::20"), ip("127.0.0.1")});
      CHECK(s.hasWildcard());
      const Case cases[] = {
          {"127.0.0.1", 3128, true},     {"127.255.255.254", 3128, true},
          {"::1", 3128, true},           {"::ffff:127.0.0.1", 3128, true},
          {"0.0.0.0", 3128, true},       {"::", 3128, true},
          {"192.168.1.20", 3128, true},  {"2001:db8::20", 3128, true},
          {"192.168.1.21", 3128, false}, {"93.184.216.34", 3128, false},
          {"127.0.0.1", 80, false},
      };
      for (const Case& c : cases) {
        CAPTURE(c.addr);
        auto e = s.reaches(ip(c.addr), c.port);
        CHECK(e.has_value() == c.self);
        if (e) CHECK(e->second == 3128);
      }
    }
  }
}
