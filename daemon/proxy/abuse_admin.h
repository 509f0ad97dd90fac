#pragma once
// The abuse guard as the admin listener shows and changes it: the list of
// blocked clients for the status figures, and POST /unblock.

#include <functional>
#include <vector>

#include "daemon/admin/admin_server.h"
#include "daemon/admin/stats.h"

namespace portcullis::proxy {

class Server;

/// The clients `server`'s abuse guard blocks now (for Stats); `server` must
/// outlive the returned function. Any thread.
std::function<std::vector<admin::BlockedClient>()> blockedClientsSource(Server& server);

/// Ends a block (POST /unblock?ip=A) and reports a "client_unblocked" event
/// with detail "admin". Error status 400 for a bad address, 404 when the
/// address was not blocked.
admin::AdminServer::UnblockHandler unblockHandler(Server& server);

}  // namespace portcullis::proxy
