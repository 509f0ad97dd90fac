#include "daemon/admin/admin_commands.h"

#include <unistd.h>

#include "acl/ip_address.h"
#include "daemon/config/config_loader.h"

namespace portcullis::admin {

std::optional<std::string> resolveAdminAddress(const AdminTarget& target, std::ostream& err) {
  if (target.addressGiven) return target.address;
  // Without -c the default file is used only when it is there and readable
  // (an unprivileged user may not read it): the old default address then.
  if (!target.configGiven && ::access(target.configPath.c_str(), R_OK) != 0) return target.address;
  auto loaded = config::loadConfigFile(target.configPath);
  if (!loaded.config) {
    if (!target.configGiven) return target.address;
    for (const auto& d : loaded.diagnostics) err << d.format() << "\n";
    err << "portcullis: cannot find the admin listener: " << target.configPath << " has errors\n";
    return std::nullopt;
  }
  if (loaded.config->admin.listen.empty()) {
    err << "portcullis: the admin listener is off in " << target.configPath
        << " ([admin] listen = \"\")\n";
    return std::nullopt;
  }
  return loaded.config->admin.listen;
}

int runStatus(const AdminTarget& target, const StatusOptions& options, std::ostream& out,
              std::ostream& err) {
  const auto address = resolveAdminAddress(target, err);
  if (!address) return 2;
  return runStatus(*address, options, out, err);
}

int runUnblock(const AdminTarget& target, const std::string& ip, std::ostream& out,
               std::ostream& err) {
  // Checked here so that nothing but an address reaches the request line.
  const auto parsed = acl::IpAddress::parse(ip);
  if (!parsed) {
    err << "portcullis unblock: '" << ip << "' is not an IP address\n";
    return 2;
  }
  const auto address = resolveAdminAddress(target, err);
  if (!address) return 2;
  auto addr = AdminAddress::parse(*address);
  if (!addr) {
    err << "portcullis unblock: " << addr.error().message << "\n";
    return 2;
  }
  const std::string host = addr->kind == AdminAddress::Kind::kUnix ? "localhost" : addr->toString();
  auto reply =
      httpExchange(*addr,
                   "POST /unblock?ip=" + parsed->toString() + " HTTP/1.0\r\nHost: " + host +
                       "\r\nX-Portcullis-Admin: 1\r\nContent-Length: 0\r\n\r\n",
                   std::chrono::seconds(5));
  if (!reply) {
    err << "portcullis unblock: cannot reach the admin listener at " << addr->toString() << ": "
        << reply.error().message << "\n";
    return 1;
  }
  (reply->status == 200 ? out : err) << reply->body;
  return reply->status == 200 ? 0 : 1;
}

}  // namespace portcullis::admin
