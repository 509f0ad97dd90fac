#pragma once
// Address ranges a proxy must never reach on a client's behalf unless the
// admin names them explicitly: every entry of the IANA IPv4 and IPv6
// Special-Purpose Address Registries (RFC 6890) that is not globally
// reachable, plus multicast and the deprecated IPv6 site-local and
// IPv4-compatible blocks. IPv4 ranges are held v4-mapped, so
// "::ffff:10.0.0.1" is caught by 10.0.0.0/8 like "10.0.0.1".
//
// The most specific entry containing an address decides: 192.0.0.9 (PCP
// anycast, globally reachable) is not special although 192.0.0.0/24 is.
// Addresses that carry an IPv4 address (NAT64, SIIT, 6to4, Teredo) are
// special when the IPv4 inside is.

#include <optional>
#include <string_view>
#include <vector>

#include "acl/cidr.h"

namespace portcullis::acl {

/// How an entry treats the addresses inside it.
enum class SpecialKind {
  kSpecial,    ///< not globally reachable: refused unless opened
  kReachable,  ///< globally reachable per the registry: an ordinary address
};

/// Where an IPv6 entry carries an IPv4 address (checked as IPv4).
enum class Embedding {
  kNone,
  kLast32,  ///< the last 32 bits (IPv4-mapped, SIIT, NAT64 /96)
  k6to4,    ///< bits 16..47 (RFC 3056 §2)
  kTeredo,  ///< server bits 32..63, client the last 32 bits inverted (RFC 4380 §4)
};

struct SpecialRange {
  Cidr cidr;
  std::string_view what;  ///< "private-use (RFC 1918)", "loopback (RFC 1122)", ...
  SpecialKind kind = SpecialKind::kSpecial;
  Embedding embeds = Embedding::kNone;

  bool special() const { return kind == SpecialKind::kSpecial; }
};

/// Every entry of the table, most specific (longest prefix) first.
const std::vector<SpecialRange>& specialRanges();

/// Why an address is special.
struct SpecialMatch {
  const SpecialRange* range = nullptr;  ///< the special range that decided
  /// The address the range was found for: `a` itself, or the IPv4 address
  /// embedded in it. Only a destination CIDR containing this address opens it.
  IpAddress checked;
};

/// The special range `a` lies in (directly or through an embedded IPv4
/// address), or nullopt when `a` is an ordinary, globally reachable address.
std::optional<SpecialMatch> findSpecial(const IpAddress& a);

/// findSpecial(a)->range, or nullptr.
const SpecialRange* findSpecialRange(const IpAddress& a);

/// The IPv4 addresses an IPv6 address of `e` carries (one, or two for Teredo).
std::vector<IpAddress> embeddedV4(Embedding e, const IpAddress& a);

/// True when all of `c` lies inside one special range: only such a block,
/// written by the admin, opens that part of the range ("10.0.0.0/8" does,
/// "0.0.0.0/0" and "::/0" never do).
bool cidrWithinSpecial(const Cidr& c);

/// True when `c` overlaps a special range without lying inside one (e.g.
/// "0.0.0.0/0"): such a block does not open the special part.
bool cidrStraddlesSpecial(const Cidr& c);

}  // namespace portcullis::acl
