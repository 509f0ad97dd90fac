#include "daemon/admin/admin_commands.h"

#include <unistd.h>

#include "acl/ip_address.h"
#include "daemon/config/commands.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/reload_contract.h"
#include "daemon/log/json_writer.h"

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

namespace {

/// Parses GET /status?format=restart-only: `key "value"` lines (the value
/// stays quoted; both sides are compared quoted).
std::vector<config::KeyValue> parseRestartOnly(const std::string& body) {
  std::vector<config::KeyValue> out;
  size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    if (eol == std::string::npos) eol = body.size();
    const std::string line = body.substr(pos, eol - pos);
    if (const auto space = line.find(' '); space != std::string::npos) {
      out.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
    pos = eol + 1;
  }
  return out;
}

}  // namespace

int runValidateAgainstRunning(const AdminTarget& target, bool strict, std::ostream& out,
                              std::ostream& err) {
  if (const int rc = config::runValidate(target.configPath, strict, out, err); rc != 0) return rc;
  const auto address = resolveAdminAddress(target, err);
  if (!address) return 2;
  auto addr = AdminAddress::parse(*address);
  if (!addr) {
    err << "portcullis validate: " << addr.error().message << "\n";
    return 2;
  }
  auto reply = httpGet(*addr, "/status?format=restart-only", std::chrono::seconds(5));
  if (!reply || reply->status != 200) {
    err << "portcullis validate: cannot ask the running daemon at " << addr->toString() << ": "
        << (reply ? "HTTP " + std::to_string(reply->status) : reply.error().message)
        << " (when the file moves [admin] listen, pass --admin with the running one)\n";
    return 1;
  }
  const auto running = parseRestartOnly(reply->body);
  auto loaded = config::loadConfigFile(target.configPath);
  std::vector<config::KeyValue> file;
  for (auto& [key, value] : config::restartOnlyValues(*loaded.config)) {
    std::string quoted;
    log::appendQuoted(quoted, value);
    file.emplace_back(std::move(key), std::move(quoted));
  }
  const auto changed = config::restartOnlyChanges(running, file);
  if (changed.empty()) {
    out << "against the running daemon: no restart-only key changes; a reload applies it all\n";
    return 0;
  }
  out << "against the running daemon: a reload keeps these running until a restart:\n";
  for (const auto& key : changed) {
    std::string was, now;
    for (const auto& [k, v] : running) was = k == key ? v : was;
    for (const auto& [k, v] : file) now = k == key ? v : now;
    out << "  " << key << ": running " << was << ", file " << now << " (restart required)\n";
  }
  return 0;
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
