#pragma once
// The daemon's resolver (Resolver: [dns] nameservers, timeout, hosts file)
// driven to completion on a private event loop, for command-line tools:
// `portcullis explain --resolve` sees the addresses `run` would see.

#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/base/result.h"
#include "daemon/config/config.h"

namespace portcullis::net {

/// Resolves `host` (A and AAAA) with the settings of `dns`; blocks for at
/// most about two [dns] timeouts. Errors carry libevent's DNS error text.
Result<std::vector<acl::IpAddress>> resolveBlocking(const config::DnsConfig& dns,
                                                    const std::string& host);

}  // namespace portcullis::net
