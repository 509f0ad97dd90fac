#include "daemon/admin/peer_allow_list.h"

#include "acl/cidr.h"
#include "acl/ip_address.h"

namespace portcullis::admin {

Result<PeerAllowList> PeerAllowList::parse(const std::vector<std::string>& cidrs) {
  PeerAllowList list;
  for (const auto& entry : cidrs) {
    const acl::CidrParse p = acl::parseCidr(entry);
    if (!p.cidr) return makeError("admin allow: '" + entry + "': " + p.error);
    list.nets_.add(*p.cidr);
  }
  list.nets_.finalize();
  return list;
}

bool PeerAllowList::allows(const sockaddr* sa) const {
  const auto ip = acl::IpAddress::fromSockaddr(sa);
  return ip && nets_.contains(*ip);
}

}  // namespace portcullis::admin
