#pragma once
// Listening sockets, made before privileges are dropped and shared out to the
// workers: each worker gets its own SO_REUSEPORT socket per address so the
// kernel spreads accepts across loops without a shared lock.

#include <vector>

#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"
#include "daemon/net/socket_address.h"

namespace portcullis::net {

/// A bound, listening, non-blocking socket with SO_REUSEPORT and SO_REUSEADDR.
Result<UniqueFd> openListenSocket(const SocketAddress& address, int backlog = 1024);

/// The address a socket is actually bound to (port 0 resolved).
Result<SocketAddress> boundAddress(int fd);

}  // namespace portcullis::net
