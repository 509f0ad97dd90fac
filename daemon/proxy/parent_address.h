#pragma once
// Which of a parent's addresses may be connected to: an IP literal as
// written, or what its name resolved to (README "Parent proxies"). The
// admin named the parent, so private and loopback addresses are fine; what
// is refused is an address that is the proxy itself (hard:self: a request
// would come back to us) and one that is no unicast destination at all
// (0.0.0.0/8, ::, multicast, 255.255.255.255). Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "acl/self_addresses.h"

namespace portcullis::proxy {

/// The usable addresses, and why the others were left out.
struct ParentAddresses {
  std::vector<acl::IpAddress> usable;  ///< in the given order
  /// Why none is usable ("" when some is): e.g. "127.0.0.1:3128 is the
  /// proxy itself (hard:self)".
  std::string refused;
};

/// The addresses of `candidates` (with `port`) a parent may be reached at;
/// `self` is the proxy's own endpoints (null: none known).
ParentAddresses usableParentAddresses(const std::vector<acl::IpAddress>& candidates, uint16_t port,
                                      const acl::SelfAddresses* self);

/// True for an address that is no unicast destination: 0.0.0.0/8, ::,
/// multicast (224.0.0.0/4, ff00::/8) and the limited broadcast address.
bool notUnicast(const acl::IpAddress& a);

}  // namespace portcullis::proxy
