#include <doctest/doctest.h>

#include "acl/cidr.h"
#include "acl/cidr_set.h"
#include "acl/ip_address.h"

using namespace portcullis::acl;

namespace {
IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  REQUIRE_MESSAGE(a.has_value(), s);
  return *a;
}
CidrSet setOf(std::initializer_list<const char*> cidrs) {
  CidrSet s;
  for (const char* c : cidrs) {
    auto p = parseCidr(c);
    REQUIRE_MESSAGE(p.cidr.has_value(), c);
    s.add(*p.cidr);
  }
  s.finalize();
  return s;
}
}  // namespace

TEST_CASE("IpAddress parses, classifies and prints") {
  struct Case { const char* in; bool ok; bool v4; const char* text; };
  const Case cases[] = {
      {"10.1.2.3", true, true, "10.1.2.3"},
      {"::ffff:10.1.2.3", true, true, "10.1.2.3"},  // v4-mapped is v4
      {"2001:DB8::1", true, false, "2001:db8::1"},
      {"::1", true, false, "::1"},
      {"10.1", false, false, ""},        // no short forms
      {"010.1.2.3", false, false, ""},   // no octal
      {"256.1.1.1", false, false, ""},
      {"fe80::1%eth0", false, false, ""},
      {"[::1]", false, false, ""},
      {"", false, false, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    auto a = IpAddress::parse(c.in);
    REQUIRE(a.has_value() == c.ok);
    if (!c.ok) continue;
    CHECK(a->isV4() == c.v4);
    CHECK(a->toString() == c.text);
  }
  CHECK(IpAddress::fromV4(0x0a000001) == ip("10.0.0.1"));
  CHECK(ip("10.0.0.1").v4() == 0x0a000001u);
}

TEST_CASE("parseCidr: prefixes, host bits and errors") {
  SUBCASE("v4 block") {
    auto p = parseCidr("10.0.0.0/8");
    REQUIRE(p.cidr);
    CHECK_FALSE(p.hostBitsSet);
    CHECK(p.cidr->toString() == "10.0.0.0/8");
    CHECK(p.cidr->prefix == 104);
  }
  SUBCASE("host bits set are cleared and flagged") {
    auto p = parseCidr("10.0.0.1/8");
    REQUIRE(p.cidr);
    CHECK(p.hostBitsSet);
    CHECK(p.cidr->toString() == "10.0.0.0/8");
  }
  SUBCASE("bare address is a host block") {
    CHECK(parseCidr("192.0.2.7").cidr->toString() == "192.0.2.7/32");
    CHECK(parseCidr("2001:db8::7").cidr->toString() == "2001:db8::7/128");
  }
  SUBCASE("errors") {
    for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/x", "nonsense",
                            "10.0.0.0/8/8", "/8", "10.0.0.0/-1"}) {
      CAPTURE(bad);
      auto p = parseCidr(bad);
      CHECK_FALSE(p.cidr);
      CHECK_FALSE(p.error.empty());
    }
  }
}

TEST_CASE("CidrSet matches v4, v6 and v4-mapped v6") {
  CidrSet s = setOf({"10.20.0.0/16", "192.0.2.7", "2001:db8::/48", "0.0.0.0/32"});
  struct Case { const char* addr; bool in; };
  const Case cases[] = {
      {"10.20.0.0", true},      {"10.20.255.255", true}, {"10.21.0.0", false},
      {"10.19.255.255", false}, {"192.0.2.7", true},     {"192.0.2.8", false},
      {"2001:db8::1", true},    {"2001:db8:0:ffff::1", true}, {"2001:db8:1::1", false},
      {"::ffff:10.20.1.1", true},  // v4-mapped form of a v4 member
      {"::ffff:10.21.1.1", false}, {"0.0.0.0", true},  {"::", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.addr);
    CHECK(s.contains(ip(c.addr)) == c.in);
  }
}

TEST_CASE("CidrSet merges overlaps and adjacent blocks") {
  CidrSet s = setOf({"10.0.0.0/25", "10.0.0.128/25", "10.0.0.64/26", "10.0.1.0/24"});
  CHECK(s.rangeCount() == 1);
  CHECK(s.contains(ip("10.0.1.255")));
  CHECK_FALSE(s.contains(ip("10.0.2.0")));
  CidrSet all = setOf({"::/0"});
  CHECK(all.contains(ip("255.255.255.255")));
  CHECK(all.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
}

TEST_CASE("CidrSet coversAll and intersects") {
  CidrSet big = setOf({"10.0.0.0/8", "2001:db8::/32"});
  CHECK(big.coversAll(setOf({"10.1.0.0/16", "2001:db8:5::/48"})));
  CHECK_FALSE(big.coversAll(setOf({"10.1.0.0/16", "11.0.0.0/16"})));
  CHECK(big.intersects(setOf({"10.0.0.0/7"})));
  CHECK_FALSE(big.intersects(setOf({"11.0.0.0/8"})));
}

TEST_CASE("CidrSet with 100,000 blocks answers exactly") {
  CidrSet s;
  // 100,000 disjoint /30 blocks spaced 8 addresses apart from 20.0.0.0.
  for (uint32_t i = 0; i < 100000; ++i) s.add(Cidr{IpAddress::fromV4(0x14000000u + i * 8), 126, true});
  s.finalize();
  CHECK(s.rangeCount() == 100000);
  for (uint32_t i : {0u, 1u, 4999u, 99999u}) {
    CHECK(s.contains(IpAddress::fromV4(0x14000000u + i * 8 + 3)));
    CHECK_FALSE(s.contains(IpAddress::fromV4(0x14000000u + i * 8 + 4)));
  }
}

// The one CIDR parser. admin::PeerAllowList had its own reader and matcher
// for [admin] allow; it now uses parseCidr and CidrSet, so this table also
// holds what that copy accepted and refused (they agreed on every row).
TEST_CASE("parseCidr table (with the former admin allow-list parser's cases)") {
  struct Row {
    const char* in;
    const char* block;  // nullptr: refused
    const char* inside = "";
    const char* outside = "";
  };
  const Row rows[] = {
      {"127.0.0.1/32", "127.0.0.1/32", "127.0.0.1", "127.0.0.2"},
      {"10.1.0.0/17", "10.1.0.0/17", "10.1.127.255", "10.1.128.0"},
      {"10.0.0.0/08", "10.0.0.0/8", "10.255.0.1", "11.0.0.0"},
      {"0.0.0.0/0", "0.0.0.0/0", "255.255.255.255", "::1"},  // all of v4, none of v6
      {"::1", "::1/128", "::1", "::2"},
      {"2001:db8::/33", "2001:db8::/33", "2001:db8:7fff::1", "2001:db8:8000::1"},
      {"::/0", "::/0", "10.0.0.1", ""},  // v6 /0 holds the v4-mapped block too
      // A v4 block matches a v4-mapped v6 peer ("::ffff:127.0.0.1" on a dual-stack socket).
      {"127.0.0.0/8", "127.0.0.0/8", "::ffff:127.0.0.1", "::127.0.0.1"},
      // Written as v6, counted in v6 bits, though it covers v4 space.
      {"::ffff:10.0.0.0/104", "10.0.0.0/104", "10.9.9.9", "11.0.0.0"},
      {"10.0.0.0/33", nullptr},
      {"::/129", nullptr},
      {"10.0.0.0/", nullptr},
      {"1.2.3.4/x", nullptr},
      {"1.2.3.4/+8", nullptr},
      {"1.2.3.4/0008", nullptr},
      {"example.com", nullptr},
      {"example.com/8", nullptr},
      {" 10.0.0.0/8", nullptr},
      {"10.0.0.0/8 ", nullptr},
      {"[::1]/128", nullptr},
      {"fe80::1%eth0/64", nullptr},
      {"", nullptr},
  };
  for (const Row& r : rows) {
    SUBCASE(r.in) {
      const CidrParse p = parseCidr(r.in);
      REQUIRE(p.cidr.has_value() == (r.block != nullptr));
      if (!p.cidr) {
        CHECK_FALSE(p.error.empty());
        continue;
      }
      CHECK(p.cidr->toString() == r.block);
      CidrSet set;
      set.add(*p.cidr);
      set.finalize();
      CHECK(set.contains(ip(r.inside)));
      if (*r.outside != '\0') CHECK_FALSE(set.contains(ip(r.outside)));
    }
  }
}
