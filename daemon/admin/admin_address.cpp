#include "daemon/admin/admin_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "daemon/http/host_port.h"

namespace portcullis::admin {

Result<AdminAddress> AdminAddress::parse(const std::string& text) {
  AdminAddress a;
  if (text.rfind("unix:", 0) == 0) {
    a.kind = Kind::kUnix;
    a.path = text.substr(5);
    if (a.path.empty()) return makeError("admin address '" + text + "': empty socket path");
    if (a.path.size() >= sizeof(sockaddr_un::sun_path)) {
      return makeError("admin address '" + text + "': socket path too long");
    }
    return a;
  }
  // The one host:port parser; the admin address is an IP literal, resolved
  // by nobody, and port 0 lets tests ask for any free port.
  auto hp =
      http::parseHostPort(text, {.portRequired = true, .portZeroAllowed = true, .ipOnly = true});
  if (!hp) {
    return makeError("admin address '" + text + "': " + hp.error().message +
                     " (expected ip:port, [v6]:port or unix:/path)");
  }
  a.host = std::move(hp->host);
  a.port = hp->port;
  return a;
}

socklen_t AdminAddress::toSockaddr(sockaddr_storage& ss) const {
  std::memset(&ss, 0, sizeof ss);
  if (kind == Kind::kUnix) {
    auto* un = reinterpret_cast<sockaddr_un*>(&ss);
    if (path.size() >= sizeof un->sun_path) return 0;
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

std::string AdminAddress::toString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace portcullis::admin
