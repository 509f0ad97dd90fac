#include "acl/special_ranges.h"

#include <algorithm>

namespace portcullis::acl {

namespace {
Cidr mustParse(std::string_view text) {
  return *parseCidr(text).cidr;
}

struct Row {
  std::string_view cidr;
  std::string_view what;
  SpecialKind kind = SpecialKind::kSpecial;
  Embedding embeds = Embedding::kNone;
};

constexpr SpecialKind kReach = SpecialKind::kReachable;

// The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, as
// updated by RFC 8190), every entry. "Globally reachable: False" entries are
// special; "True" ones are ordinary addresses even inside a special block
// (the most specific entry decides). Entries whose reachability is "N/A"
// (6to4, Teredo) carry an IPv4 address, which is checked instead. Rows
// marked "not in the registry" add what a proxy must not reach either.
const Row kIpv4[] = {
    {"0.0.0.0/8", "\"this network\" (RFC 791 §3.2)"},
    {"0.0.0.0/32", "\"this host on this network\" (RFC 1122 §3.2.1.3)"},
    {"10.0.0.0/8", "private-use (RFC 1918)"},
    {"100.64.0.0/10", "shared address space, carrier-grade NAT (RFC 6598)"},
    {"127.0.0.0/8", "loopback (RFC 1122 §3.2.1.3)"},
    {"169.254.0.0/16", "link-local, incl. cloud metadata 169.254.169.254 (RFC 3927)"},
    {"172.16.0.0/12", "private-use (RFC 1918)"},
    {"192.0.0.0/24", "IETF protocol assignments (RFC 6890 §2.1)"},
    {"192.0.0.0/29", "IPv4 service continuity prefix (RFC 7335)"},
    {"192.0.0.8/32", "IPv4 dummy address (RFC 7600)"},
    {"192.0.0.9/32", "port control protocol anycast (RFC 7723)", kReach},
    {"192.0.0.10/32", "TURN anycast (RFC 8155)", kReach},
    {"192.0.0.170/32", "NAT64/DNS64 discovery (RFC 8880, RFC 7050 §2.2)"},
    {"192.0.0.171/32", "NAT64/DNS64 discovery (RFC 8880, RFC 7050 §2.2)"},
    {"192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"},
    {"192.31.196.0/24", "AS112-v4 (RFC 7535)", kReach},
    {"192.52.193.0/24", "AMT (RFC 7450)", kReach},
    {"192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"},
    {"192.88.99.2/32", "6a44 relay anycast (RFC 6751)", kReach},
    {"192.168.0.0/16", "private-use (RFC 1918)"},
    {"192.175.48.0/24", "AS112 direct delegation (RFC 7534)", kReach},
    {"198.18.0.0/15", "benchmarking (RFC 2544)"},
    {"198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"},
    {"203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"},
    {"224.0.0.0/4", "multicast (RFC 5771; not in the registry)"},
    {"240.0.0.0/4", "reserved (RFC 1112 §4)"},
    {"255.255.255.255/32", "limited broadcast (RFC 8190, RFC 919 §7)"},
};

const Row kIpv6[] = {
    {"::1/128", "loopback (RFC 4291)"},
    {"::/128", "unspecified (RFC 4291)"},
    {"::/96", "IPv4-compatible, deprecated (RFC 4291 §2.5.5.1; not in the registry)"},
    // The IPv4 address itself (IpAddress stores IPv4 this way): its IPv4 entry decides.
    {"::ffff:0:0/96", "IPv4-mapped (RFC 4291)", kReach, Embedding::kLast32},
    {"::ffff:0:0:0/96", "IPv4-translated, SIIT (RFC 2765 §2.1; not in the registry)",
     SpecialKind::kSpecial, Embedding::kLast32},
    {"64:ff9b::/96", "IPv4/IPv6 translation, NAT64 (RFC 6052)", kReach, Embedding::kLast32},
    {"64:ff9b:1::/48", "IPv4/IPv6 translation, local use (RFC 8215)", SpecialKind::kSpecial,
     Embedding::kLast32},
    {"100::/64", "discard-only (RFC 6666)"},
    {"100:0:0:1::/64", "dummy IPv6 prefix (RFC 9780)"},
    {"2001::/23", "IETF protocol assignments (RFC 2928)"},
    {"2001::/32", "Teredo (RFC 4380, RFC 8190)", kReach, Embedding::kTeredo},
    {"2001:1::1/128", "port control protocol anycast (RFC 7723)", kReach},
    {"2001:1::2/128", "TURN anycast (RFC 8155)", kReach},
    {"2001:1::3/128", "DNS-SD service registration protocol anycast (RFC 9665)", kReach},
    {"2001:2::/48", "benchmarking (RFC 5180)"},
    {"2001:3::/32", "AMT (RFC 7450)", kReach},
    {"2001:4:112::/48", "AS112-v6 (RFC 7535)", kReach},
    {"2001:10::/28", "deprecated ORCHID (RFC 4843)"},
    {"2001:20::/28", "ORCHIDv2 (RFC 7343)", kReach},
    {"2001:30::/28", "drone remote ID entity tags (RFC 9374)", kReach},
    {"2001:db8::/32", "documentation (RFC 3849)"},
    {"2002::/16", "6to4 (RFC 3056)", kReach, Embedding::k6to4},
    {"2620:4f:8000::/48", "AS112 direct delegation (RFC 7534)", kReach},
    {"3fff::/20", "documentation (RFC 9637)"},
    {"5f00::/16", "segment routing SIDs (RFC 9602)"},
    {"fc00::/7", "unique-local (RFC 4193, RFC 8190)"},
    {"fe80::/10", "link-local unicast (RFC 4291)"},
    {"fec0::/10", "site-local, deprecated (RFC 3879; not in the registry)"},
    {"ff00::/8", "multicast (RFC 4291 §2.7; not in the registry)"},
};

std::vector<SpecialRange> build() {
  std::vector<SpecialRange> out;
  for (const Row& r : kIpv4) out.push_back({mustParse(r.cidr), r.what, r.kind, r.embeds});
  for (const Row& r : kIpv6) out.push_back({mustParse(r.cidr), r.what, r.kind, r.embeds});
  // Blocks are nested or disjoint, so the first containing entry in this
  // order is the most specific one.
  std::stable_sort(out.begin(), out.end(), [](const SpecialRange& a, const SpecialRange& b) {
    return a.cidr.prefix > b.cidr.prefix;
  });
  return out;
}

// Each entry's bounds, computed once and split by family: this runs for
// every resolved address (about 30 ns for an IPv4 one).
struct V4Bounds {
  uint32_t first;
  uint32_t last;
  const SpecialRange* range;
};
struct V6Bounds {
  U128 first;
  U128 last;
  const SpecialRange* range;
};
struct Index {
  std::vector<V4Bounds> v4;
  std::vector<V6Bounds> v6;
};

const Index& index() {
  static const Index idx = [] {
    Index out;
    for (const SpecialRange& r : specialRanges()) {
      if (r.cidr.v4) {
        out.v4.push_back({r.cidr.base.v4(), r.cidr.last().toAddress().v4(), &r});
      } else {
        out.v6.push_back({r.cidr.first(), r.cidr.last(), &r});
      }
    }
    return out;
  }();
  return idx;
}

const SpecialRange* mostSpecificV4(uint32_t v) {
  for (const V4Bounds& b : index().v4) {
    if (b.first <= v && v <= b.last) return b.range;
  }
  return nullptr;
}

const SpecialRange* mostSpecificV6(const IpAddress& a) {
  const U128 v = U128::fromAddress(a);
  for (const V6Bounds& b : index().v6) {
    if (b.first <= v && v <= b.last) return b.range;
  }
  return nullptr;
}

IpAddress v4At(const std::array<uint8_t, 16>& b, size_t off, uint32_t flip = 0) {
  uint32_t v = (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) |
               (uint32_t{b[off + 2]} << 8) | b[off + 3];
  return IpAddress::fromV4(v ^ flip);
}

/// The special entry an IPv4 address lies in, or nullptr.
const SpecialRange* specialV4(const IpAddress& v4) {
  const SpecialRange* r = mostSpecificV4(v4.v4());
  return r != nullptr && r->special() ? r : nullptr;
}
}  // namespace

const std::vector<SpecialRange>& specialRanges() {
  static const std::vector<SpecialRange> ranges = build();
  return ranges;
}

std::vector<IpAddress> embeddedV4(Embedding e, const IpAddress& a) {
  const auto& b = a.bytes();
  switch (e) {
    case Embedding::kNone:
      return {};
    case Embedding::kLast32:
      return {v4At(b, 12)};
    // RFC 3056 §2: 2002:V4ADDR::/48.
    case Embedding::k6to4:
      return {v4At(b, 2)};
    // RFC 4380 §4: 2001:0:SERVER:FLAGS:PORT:CLIENT, the client's bits inverted.
    case Embedding::kTeredo:
      return {v4At(b, 4), v4At(b, 12, 0xffffffffu)};
  }
  return {};
}

std::optional<SpecialMatch> findSpecial(const IpAddress& a) {
  // IPv4 (held v4-mapped): its own entry decides; it carries nothing further.
  if (a.isV4()) {
    if (const SpecialRange* r = specialV4(a)) return SpecialMatch{r, a};
    return std::nullopt;
  }
  const SpecialRange* r = mostSpecificV6(a);
  if (r == nullptr) return std::nullopt;
  // An address carrying a special IPv4 address is as special as that one,
  // whatever its own entry says (RFC 6052 §3.1 forbids translating to
  // non-global IPv4; a proxy must not rely on the translator doing so).
  for (const IpAddress& v4 : embeddedV4(r->embeds, a)) {
    if (const SpecialRange* inner = specialV4(v4)) return SpecialMatch{inner, v4};
  }
  if (!r->special()) return std::nullopt;
  return SpecialMatch{r, a};
}

const SpecialRange* findSpecialRange(const IpAddress& a) {
  auto m = findSpecial(a);
  return m ? m->range : nullptr;
}

bool cidrWithinSpecial(const Cidr& c) {
  return std::any_of(specialRanges().begin(), specialRanges().end(),
                     [&](const SpecialRange& r) { return r.special() && r.cidr.covers(c); });
}

bool cidrStraddlesSpecial(const Cidr& c) {
  if (cidrWithinSpecial(c)) return false;
  return std::any_of(specialRanges().begin(), specialRanges().end(), [&](const SpecialRange& r) {
    return r.special() && c.first() <= r.cidr.last() && r.cidr.first() <= c.last();
  });
}

}  // namespace portcullis::acl
