#pragma once
// Address ranges a proxy must never reach on a client's behalf unless the
// admin names them explicitly: loopback, private, link-local (cloud metadata
// at 169.254.169.254), CGNAT, multicast, reserved, unspecified and
// broadcast. IPv4 ranges are held v4-mapped, so "::ffff:10.0.0.1" is caught
// by 10.0.0.0/8 like "10.0.0.1".

#include <string_view>
#include <vector>

#include "acl/cidr.h"

namespace portcullis::acl {

struct SpecialRange {
  Cidr cidr;
  std::string_view what;  ///< "private (RFC 1918)", "loopback", ...
};

/// Every special range, most specific first.
const std::vector<SpecialRange>& specialRanges();

/// The special range `a` lies in, or nullptr. IPv4 addresses embedded in
/// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are checked too.
const SpecialRange* findSpecialRange(const IpAddress& a);

/// True when all of `c` lies inside one special range: only such a block,
/// written by the admin, opens that part of the range ("10.0.0.0/8" does,
/// "0.0.0.0/0" and "::/0" never do).
bool cidrWithinSpecial(const Cidr& c);

/// True when `c` overlaps a special range without lying inside one (e.g.
/// "0.0.0.0/0"): such a block does not open the special part.
bool cidrStraddlesSpecial(const Cidr& c);

}  // namespace portcullis::acl
