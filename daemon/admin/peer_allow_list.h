#pragma once
// The admin listener's own source ACL: a short list of CIDRs checked
// against the peer address of each admin connection. Deliberately separate
// from the proxy policy: the admin port has its own, stricter audience.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/base/result.h"

struct sockaddr;

namespace portcullis::admin {

class PeerAllowList {
 public:
  /// Parses "a.b.c.d/n", "v6/n" or a bare address (= /32 or /128). One bad
  /// entry fails the whole list, naming the entry.
  static Result<PeerAllowList> parse(const std::vector<std::string>& cidrs);

  /// True when `sa` (AF_INET or AF_INET6; v4-mapped v6 counts as v4) lies in
  /// one of the networks. Other families: false (Unix sockets are checked
  /// by file permissions, not here).
  bool allows(const sockaddr* sa) const;
  bool empty() const { return nets_.empty(); }

 private:
  struct Net {
    std::array<uint8_t, 16> addr{};  // IPv4 kept v4-mapped (::ffff:a.b.c.d)
    unsigned prefix = 0;             // over the 128-bit form
  };
  std::vector<Net> nets_;
};

}  // namespace portcullis::admin
