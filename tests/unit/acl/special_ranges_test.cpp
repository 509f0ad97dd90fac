#include <doctest/doctest.h>

#include <string>

#include "acl/special_ranges.h"

using namespace portcullis::acl;

namespace {
IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}
bool special(const IpAddress& a) {
  return findSpecial(a).has_value();
}

// The most specific table entry containing `a`, or nullptr.
const SpecialRange* entryOf(const IpAddress& a) {
  for (const SpecialRange& r : specialRanges()) {
    if (r.cidr.contains(a)) return &r;
  }
  return nullptr;
}

// Whether the table says `a` is special on its own (no embedded IPv4 decides).
bool expectedSpecial(const IpAddress& a) {
  const SpecialRange* r = entryOf(a);
  if (r == nullptr) return false;
  if (r->embeds != Embedding::kNone) return special(a);  // decided by what it carries
  return r->special();
}
}  // namespace

TEST_CASE("special ranges: every registry entry, its edges and just outside") {
  REQUIRE(specialRanges().size() >= 50);
  for (const SpecialRange& r : specialRanges()) {
    CAPTURE(r.cidr.toString());
    CAPTURE(r.what);
    // Each entry cites where it comes from.
    CHECK(r.what.find("RFC ") != std::string_view::npos);
    IpAddress first = r.cidr.first().toAddress();
    IpAddress last = r.cidr.last().toAddress();
    if (r.embeds == Embedding::kNone) {
      CHECK(special(first) == r.special());
      CHECK(special(last) == r.special());
      // The most specific entry decides: this one, unless a longer one sits
      // at the same edge.
      if (entryOf(first) == &r) CHECK(findSpecialRange(first) == (r.special() ? &r : nullptr));
    }
    // Just outside: ordinary unless another entry covers it.
    U128 before = r.cidr.first();
    if (before.lo-- == 0) before.hi--;
    if (!(r.cidr.first() == U128{})) {
      IpAddress out = before.toAddress();
      CAPTURE(out.toString());
      CHECK(special(out) == expectedSpecial(out));
      if (entryOf(out) == nullptr) CHECK_FALSE(special(out));
    }
    if (!r.cidr.last().isMax()) {
      IpAddress out = r.cidr.last().next().toAddress();
      CAPTURE(out.toString());
      CHECK(special(out) == expectedSpecial(out));
      if (entryOf(out) == nullptr) CHECK_FALSE(special(out));
    }
  }
}

TEST_CASE("special ranges: addresses of the attack run and their neighbours") {
  struct Case {
    const char* addr;
    bool special;
    const char* range;
  };
  const Case cases[] = {
      // Issue #12, finding 9.
      {"::ffff:0:7f00:1", true, "127.0.0.0/8"},         // SIIT of 127.0.0.1
      {"::ffff:0:5db8:d822", true, "::ffff:0:0:0/96"},  // SIIT is never on the wire
      {"64:ff9b:1::7f00:1", true, "127.0.0.0/8"},       // RFC 8215 local-use NAT64
      {"64:ff9b:1::5db8:d822", true, "64:ff9b:1::/48"},
      {"198.18.0.1", true, "198.18.0.0/15"},
      {"198.19.255.255", true, "198.18.0.0/15"},
      {"198.20.0.0", false, nullptr},
      {"192.0.0.1", true, "192.0.0.0/29"},
      {"192.0.0.200", true, "192.0.0.0/24"},
      {"192.0.0.9", false, nullptr},  // PCP anycast: globally reachable
      // Teredo 2001:0:SERVER:FLAGS:PORT:~CLIENT.
      {"2001:0:4136:e378:8000:63bf:80ff:fffe", true, "127.0.0.0/8"},  // client 127.0.0.1
      {"2001:0:7f00:1:8000:63bf:a247:2bdd", true, "127.0.0.0/8"},     // server 127.0.0.1
      {"2001:0:4136:e378:8000:63bf:a247:27dd", false, nullptr},       // both public
      {"2001:0:a9fe:a9fe::", true, "169.254.0.0/16"},
      // 6to4 2002:V4ADDR::/48 and NAT64 64:ff9b::/96.
      {"2002:7f00:1::", true, "127.0.0.0/8"},
      {"2002:a9fe:a9fe::1", true, "169.254.0.0/16"},
      {"2002:5db8:d822::1", false, nullptr},
      {"64:ff9b::a00:1", true, "10.0.0.0/8"},
      {"64:ff9b::5db8:d822", false, nullptr},
      // IPv4-mapped is the IPv4 address itself.
      {"::ffff:127.0.0.1", true, "127.0.0.0/8"},
      {"::ffff:93.184.216.34", false, nullptr},
      {"93.184.216.34", false, nullptr},
      {"2001:2::1", true, "2001:2::/48"},
      {"2001:3::1", false, nullptr},  // AMT: globally reachable
      {"2001:5::1", true, "2001::/23"},
      {"2001:200::1", false, nullptr},
      {"3fff::1", true, "3fff::/20"},
      {"5f00::1", true, "5f00::/16"},
      {"100::1", true, "100::/64"},
      {"::7f00:1", true, "::/96"},
      {"2606:2800::1", false, nullptr},
      {"fe80::1", true, "fe80::/10"},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.addr));
    auto m = findSpecial(ip(c.addr));
    CHECK(m.has_value() == c.special);
    if (m && c.range != nullptr) CHECK(m->range->cidr.toString() == c.range);
  }
}

TEST_CASE("special ranges: which written blocks open a range") {
  struct Case {
    const char* cidr;
    bool within;
    bool straddles;
  };
  const Case cases[] = {
      {"10.0.0.0/8", true, false},
      {"10.1.0.0/16", true, false},
      {"198.18.0.0/15", true, false},
      {"0.0.0.0/0", false, true},
      {"::/0", false, true},
      {"192.0.0.0/24", true, false},
      {"93.184.216.0/24", false, false},
      {"64:ff9b::/96", false, false},
      {"64:ff9b:1::/48", true, false},
      {"2001::/16", false, true},
      {"2001:200::/23", false, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.cidr);
    Cidr cidr = *parseCidr(c.cidr).cidr;
    CHECK(cidrWithinSpecial(cidr) == c.within);
    CHECK(cidrStraddlesSpecial(cidr) == c.straddles);
  }
}
