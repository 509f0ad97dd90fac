#pragma once
// The admin listener's own source ACL: a short list of CIDRs checked
// against the peer address of each admin connection. Deliberately separate
// from the proxy policy: the admin port has its own, stricter audience. The
// CIDRs are read and matched by acl/ (parseCidr, CidrSet), like the policy's.

#include <string>
#include <vector>

#include "acl/cidr_set.h"
#include "daemon/base/result.h"

struct sockaddr;

namespace portcullis::admin {

class PeerAllowList {
 public:
  /// Parses "a.b.c.d/n", "v6/n" or a bare address (= /32 or /128) with
  /// acl::parseCidr. One bad entry fails the whole list, naming the entry.
  static Result<PeerAllowList> parse(const std::vector<std::string>& cidrs);

  /// True when `sa` (AF_INET or AF_INET6; v4-mapped v6 counts as v4) lies in
  /// one of the networks. Other families: false (Unix sockets are checked
  /// by file permissions, not here).
  bool allows(const sockaddr* sa) const;
  bool empty() const { return nets_.empty(); }

 private:
  acl::CidrSet nets_;
};

}  // namespace portcullis::admin
