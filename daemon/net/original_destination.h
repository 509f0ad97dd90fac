#pragma once
// Where a connection redirected by the kernel was going (transparent mode).

#include "daemon/base/result.h"
#include "daemon/net/socket_address.h"

namespace portcullis::net {

/// The original destination of the accepted socket `fd`: SO_ORIGINAL_DST
/// (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6) from conntrack after an nftables
/// `redirect`; where the connection was not NATed (TPROXY, which leaves the
/// destination in place, or a client that connected to us directly), the
/// socket's own local address. Any thread; no I/O beyond getsockopt.
Result<SocketAddress> originalDestination(int fd);

/// Sets IP_TRANSPARENT / IPV6_TRANSPARENT on a listening socket so TPROXY
/// can hand it connections addressed elsewhere. Needs CAP_NET_ADMIN; the
/// error says so (a redirect-only setup works without it).
Result<void> makeTransparent(int fd, int family);

}  // namespace portcullis::net
