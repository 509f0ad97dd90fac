#pragma once
// The proxy's own endpoints (its listen and admin addresses): a request to
// one of them loops back into the proxy (hard rule "hard:self"). Pure: the
// local interface addresses are passed in by the caller.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "acl/ip_address.h"

namespace portcullis::acl {

/// Thread-safe (const) after construction.
class SelfAddresses {
 public:
  using Endpoint = std::pair<IpAddress, uint16_t>;

  SelfAddresses() = default;
  /// `listen`: the addresses the proxy and admin listeners are bound to.
  /// `local`: every address of this host's interfaces (getifaddrs), which a
  /// wildcard listen (0.0.0.0 or ::) answers on.
  SelfAddresses(std::vector<Endpoint> listen, std::vector<IpAddress> local);

  /// The listen endpoint that `addr`:`port` reaches, or nullopt. A wildcard
  /// listen is reached through every local address: the interface
  /// addresses, all of 127.0.0.0/8 and ::1, and the unspecified addresses
  /// 0.0.0.0/8 and ::. Any listen is reached through the unspecified
  /// addresses (connecting to 0.0.0.0 or :: connects to the local host).
  std::optional<Endpoint> reaches(const IpAddress& addr, uint16_t port) const;

  /// 0.0.0.0 or ::.
  static bool isWildcard(const IpAddress& a);
  /// True when some endpoint is a wildcard.
  bool hasWildcard() const;
  const std::vector<Endpoint>& endpoints() const { return listen_; }

 private:
  bool isLocal(const IpAddress& a) const;

  std::vector<Endpoint> listen_;
  std::vector<IpAddress> local_;
};

}  // namespace portcullis::acl
