#include "acl/self_addresses.h"

#include <algorithm>

namespace portcullis::acl {

namespace {
const IpAddress kV6Unspecified{};
const IpAddress kV6Loopback = *IpAddress::parse("::1");

// 0.0.0.0/8 and ::: Linux connects a socket aimed at the unspecified
// address to the local host (RFC 1122 §3.2.1.3 forbids it as a destination;
// the kernel turns it into loopback).
bool isUnspecified(const IpAddress& a) {
  return a == kV6Unspecified || (a.isV4() && (a.v4() >> 24) == 0);
}

bool isLoopback(const IpAddress& a) {
  return a == kV6Loopback || (a.isV4() && (a.v4() >> 24) == 127);
}
}  // namespace

SelfAddresses::SelfAddresses(std::vector<Endpoint> listen, std::vector<IpAddress> local)
    : listen_(std::move(listen)), local_(std::move(local)) {
  std::sort(local_.begin(), local_.end());
  local_.erase(std::unique(local_.begin(), local_.end()), local_.end());
}

bool SelfAddresses::isWildcard(const IpAddress& a) {
  return a == kV6Unspecified || a == IpAddress::fromV4(0);
}

bool SelfAddresses::hasWildcard() const {
  return std::any_of(listen_.begin(), listen_.end(),
                     [](const Endpoint& e) { return isWildcard(e.first); });
}

bool SelfAddresses::isLocal(const IpAddress& a) const {
  return isLoopback(a) || isUnspecified(a) || std::binary_search(local_.begin(), local_.end(), a);
}

std::optional<SelfAddresses::Endpoint> SelfAddresses::reaches(const IpAddress& addr,
                                                              uint16_t port) const {
  for (const Endpoint& e : listen_) {
    if (e.second != port) continue;
    if (e.first == addr || isUnspecified(addr)) return e;
    if (isWildcard(e.first) && isLocal(addr)) return e;
  }
  return std::nullopt;
}

}  // namespace portcullis::acl
