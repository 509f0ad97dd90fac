#pragma once
// A CIDR block in the 128-bit address space (IPv4 blocks live inside
// ::ffff:0:0/96, so a v4 "/8" is a v6 "/104" here), and its parser.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "acl/ip_address.h"

namespace portcullis::acl {

/// A 128-bit unsigned integer as two halves; ordered like the address bytes.
struct U128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  friend bool operator==(const U128&, const U128&) = default;
  friend auto operator<=>(const U128&, const U128&) = default;
  static U128 fromAddress(const IpAddress& a);
  IpAddress toAddress() const;
  /// this + 1, saturating at the maximum (callers check isMax() first).
  U128 next() const;
  bool isMax() const { return hi == ~uint64_t{0} && lo == ~uint64_t{0}; }
};

/// One CIDR block. `prefix` counts in the 128-bit space (0..128).
struct Cidr {
  IpAddress base;      ///< the first address (host bits cleared)
  unsigned prefix = 0; ///< 0..128 in the v6 space
  bool v4 = false;     ///< written as an IPv4 block

  U128 first() const;
  U128 last() const;
  bool contains(const IpAddress& a) const;
  /// True when `other` lies entirely inside this block.
  bool covers(const Cidr& other) const;
  /// Prefix length as the admin wrote it ("/8" for 10.0.0.0/8).
  unsigned writtenPrefix() const { return v4 ? prefix - 96 : prefix; }
  /// "10.0.0.0/8", "2001:db8::/32".
  std::string toString() const;
};

struct CidrParse {
  std::optional<Cidr> cidr;   ///< nullopt when the text is not a CIDR or address
  bool hostBitsSet = false;   ///< "10.0.0.1/8": cleared to 10.0.0.0/8
  std::string error;          ///< why it is not a CIDR, for people
};

/// Parses "a.b.c.d", "a.b.c.d/n", "v6" or "v6/n". A bare address is a /32
/// (/128). Surrounding spaces are not accepted.
CidrParse parseCidr(std::string_view text);

}  // namespace portcullis::acl
