#include "acl/special_ranges.h"

namespace portcullis::acl {

namespace {
Cidr mustParse(std::string_view text) { return *parseCidr(text).cidr; }

std::vector<SpecialRange> build() {
  const std::pair<std::string_view, std::string_view> table[] = {
      // IPv4 (RFC 6890 special-purpose registry, the ranges that matter for SSRF).
      {"0.0.0.0/8", "unspecified/\"this network\" (RFC 791)"},
      {"10.0.0.0/8", "private (RFC 1918)"},
      {"100.64.0.0/10", "shared carrier-grade NAT (RFC 6598)"},
      {"127.0.0.0/8", "loopback"},
      {"169.254.0.0/16", "link-local, incl. cloud metadata 169.254.169.254 (RFC 3927)"},
      {"172.16.0.0/12", "private (RFC 1918)"},
      {"192.168.0.0/16", "private (RFC 1918)"},
      {"224.0.0.0/4", "multicast"},
      {"255.255.255.255/32", "broadcast"},
      {"240.0.0.0/4", "reserved (RFC 1112)"},
      // IPv6.
      {"::/128", "unspecified"},
      {"::1/128", "loopback"},
      {"::/96", "IPv4-compatible (deprecated, RFC 4291)"},
      {"fc00::/7", "unique local (RFC 4193)"},
      {"fe80::/10", "link-local"},
      {"fec0::/10", "site-local (deprecated)"},
      {"ff00::/8", "multicast"},
  };
  std::vector<SpecialRange> out;
  for (const auto& [cidr, what] : table) out.push_back({mustParse(cidr), what});
  return out;
}

const SpecialRange* findDirect(const IpAddress& a) {
  for (const SpecialRange& r : specialRanges()) {
    if (r.cidr.contains(a)) return &r;
  }
  return nullptr;
}
}  // namespace

const std::vector<SpecialRange>& specialRanges() {
  static const std::vector<SpecialRange> ranges = build();
  return ranges;
}

const SpecialRange* findSpecialRange(const IpAddress& a) {
  if (const SpecialRange* r = findDirect(a)) return r;
  const auto& b = a.bytes();
  // RFC 6052 NAT64 well-known prefix 64:ff9b::/96: the last 32 bits are IPv4.
  static const Cidr kNat64 = mustParse("64:ff9b::/96");
  if (kNat64.contains(a)) {
    return findDirect(IpAddress::fromV4((uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) |
                                        (uint32_t{b[14]} << 8) | b[15]));
  }
  // RFC 3056 6to4 2002:V4ADDR::/48.
  if (b[0] == 0x20 && b[1] == 0x02) {
    return findDirect(IpAddress::fromV4((uint32_t{b[2]} << 24) | (uint32_t{b[3]} << 16) |
                                        (uint32_t{b[4]} << 8) | b[5]));
  }
  return nullptr;
}

bool cidrWithinSpecial(const Cidr& c) {
  for (const SpecialRange& r : specialRanges()) {
    if (r.cidr.covers(c)) return true;
  }
  return false;
}

bool cidrStraddlesSpecial(const Cidr& c) {
  if (cidrWithinSpecial(c)) return false;
  for (const SpecialRange& r : specialRanges()) {
    if (c.first() <= r.cidr.last() && r.cidr.first() <= c.last()) return true;
  }
  return false;
}

}  // namespace portcullis::acl
