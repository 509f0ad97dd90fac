#pragma once
// The proxy's own endpoints for the hard rule "hard:self": the configured
// listen and admin addresses at load, the addresses actually bound once the
// daemon runs (a port 0 becomes the port the kernel chose).

#include <memory>
#include <vector>

#include "acl/self_addresses.h"
#include "daemon/config/config.h"

namespace portcullis::config {

/// Every address of this host's interfaces (getifaddrs; where netlink is
/// not allowed, the fallback below). Enumerated at each load and reload.
std::vector<acl::IpAddress> localInterfaceAddresses();

/// The same without a netlink socket: SIOCGIFCONF (IPv4) and
/// /proc/net/if_inet6 (IPv6). Empty when neither is readable.
std::vector<acl::IpAddress> localInterfaceAddressesWithoutNetlink();

/// The endpoints the config names: each [server] listen and the [admin]
/// listen when it is an IP address.
std::vector<acl::SelfAddresses::Endpoint> configuredEndpoints(const Config& cfg);

/// SelfAddresses for `endpoints`; the interface addresses are enumerated
/// only when one of them is a wildcard (0.0.0.0 or ::).
acl::SelfAddresses selfAddressesFor(std::vector<acl::SelfAddresses::Endpoint> endpoints);

/// A copy of `cfg` whose policy refuses `bound` (the sockets the daemon
/// actually listens on) as its own address. The daemon calls it after
/// binding and on every reload, before the config is shared with workers.
std::shared_ptr<const Config> withBoundEndpoints(const Config& cfg,
                                                 std::vector<acl::SelfAddresses::Endpoint> bound);

}  // namespace portcullis::config
