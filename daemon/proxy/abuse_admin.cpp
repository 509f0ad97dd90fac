#include "daemon/proxy/abuse_admin.h"

#include "daemon/proxy/server.h"

namespace portcullis::proxy {

std::function<std::vector<admin::BlockedClient>()> blockedClientsSource(Server& server) {
  return [&server] {
    std::vector<admin::BlockedClient> out;
    for (const auto& b : server.abuseGuard().blockedClients(std::chrono::steady_clock::now())) {
      // Rounded up: "0 s left" would be a block that is over.
      out.push_back({b.client.toString(), (b.left.count() + 999) / 1000});
    }
    return out;
  };
}

admin::AdminServer::UnblockHandler unblockHandler(Server& server) {
  return [&server](std::string_view text) -> Result<std::string> {
    auto ip = acl::IpAddress::parse(text);
    if (!ip) return Error{"'" + std::string(text) + "' is not an IP address", 400};
    if (!server.abuseGuard().unblock(*ip, std::chrono::steady_clock::now())) {
      return Error{ip->toString() + " is not blocked", 404};
    }
    if (server.hooks().clientEvent)
      server.hooks().clientEvent("client_unblocked", ip->toString(), {});
    return "unblocked " + ip->toString();
  };
}

}  // namespace portcullis::proxy
