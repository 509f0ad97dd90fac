#include "daemon/proxy/parent_address.h"

namespace portcullis::proxy {

bool notUnicast(const acl::IpAddress& a) {
  if (a.isV4()) {
    const uint32_t v = a.v4();
    // RFC 1122 §3.2.1.3: 0/8 is "this network", never a destination;
    // 224/4 multicast (RFC 5771); 255.255.255.255 limited broadcast (RFC 919).
    return (v >> 24) == 0 || (v >> 28) == 0xe || v == 0xffffffffU;
  }
  // RFC 4291 §2.5.2 unspecified, §2.7 multicast.
  return a == acl::IpAddress{} || a.bytes()[0] == 0xff;
}

ParentAddresses usableParentAddresses(const std::vector<acl::IpAddress>& candidates, uint16_t port,
                                      const acl::SelfAddresses* self) {
  ParentAddresses out;
  std::string why;
  for (const acl::IpAddress& a : candidates) {
    const std::string text = a.isV4() ? a.toString() : "[" + a.toString() + "]";
    if (notUnicast(a)) {
      if (why.empty()) why = text + " is not a unicast address";
      continue;
    }
    if (self != nullptr && self->reaches(a, port)) {
      // A parent that is us would send every request back to us (a CONNECT
      // carries no Via to stop it): refused like any destination that is us.
      if (why.empty()) why = text + ":" + std::to_string(port) + " is the proxy itself (hard:self)";
      continue;
    }
    out.usable.push_back(a);
  }
  if (out.usable.empty()) out.refused = candidates.empty() ? "no address" : why;
  return out;
}

}  // namespace portcullis::proxy
