#include "daemon/proxy/transparent_target.h"

#include <algorithm>

#include "daemon/http/host_port.h"

namespace portcullis::proxy {

namespace {
bool sameAddress(const acl::IpAddress& a, const acl::IpAddress& b) {
  if (a == b) return true;
  return a.isV4() && b.isV4() && a.v4() == b.v4();
}

Error mismatch(std::string why) {
  return makeError(std::move(why), 409);
}
}  // namespace

std::string TransparentDestination::authority() const {
  const std::string host = ip.isV4() ? ip.toString() : "[" + ip.toString() + "]";
  return host + ":" + std::to_string(port);
}

Result<http::Target> transparentHttpTarget(const http::RequestHead& head,
                                           const TransparentDestination& dst) {
  std::string absolute;
  if (!head.target.empty() && head.target[0] == '/') {
    std::string host;
    if (auto h = head.headers.get("Host"); h && !h->empty()) {
      // Checked on its own first: "a.example/x" must not become part of the path.
      auto hp = http::parseHostPort(*h, {.portRequired = false, .defaultPort = 80});
      if (!hp) return makeError("invalid Host field: " + hp.error().message, 400);
      host = hp->authority();
    } else if (head.versionMinor == 0) {
      // HTTP/1.0 without Host: the only name we know is the address itself.
      host = dst.ip.isV4() ? dst.ip.toString() : "[" + dst.ip.toString() + "]";
      if (dst.port != 80) host += ":" + std::to_string(dst.port);
    } else {
      return makeError("request without Host", 400);
    }
    absolute = "http://" + host + head.target;
  } else if (head.target.find("://") != std::string::npos) {
    absolute = head.target;
  } else {
    return makeError("a redirected connection carries origin-form requests", 400);
  }
  auto target = http::parseAbsoluteForm(absolute);
  if (!target.ok()) return makeError(target.error().message, 400);
  if (target->scheme != "http") return makeError("not an http request", 400);
  if (target->port != dst.port) {
    return mismatch("Host port " + std::to_string(target->port) + " is not the destination's (" +
                    dst.authority() + ")");
  }
  if (target->hostIsIpLiteral) {
    auto ip = acl::IpAddress::parse(target->host);
    if (!ip || !sameAddress(*ip, dst.ip)) {
      return mismatch("Host " + target->host + " is not the destination " + dst.authority());
    }
  }
  return target;
}

bool agreesWith(const acl::IpAddress& dst, const std::vector<acl::IpAddress>& resolved) {
  return std::any_of(resolved.begin(), resolved.end(),
                     [&](const acl::IpAddress& a) { return sameAddress(a, dst); });
}

}  // namespace portcullis::proxy
