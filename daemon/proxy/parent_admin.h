#pragma once
// The [[parent]] proxies as /metrics and /status show them.

#include <functional>
#include <vector>

#include "daemon/admin/stats.h"

namespace portcullis::proxy {

class Server;

/// The parents of `server`'s live config with their state and counters
/// (for Stats); `server` must outlive the returned function. Any thread.
std::function<std::vector<admin::ParentFigures>()> parentFiguresSource(Server& server);

}  // namespace portcullis::proxy
