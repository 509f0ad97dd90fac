#include "daemon/net/original_destination.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace portcullis::net {

namespace {
// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>,
// which cannot be included together with <netinet/in.h>.
constexpr int kSoOriginalDst = 80;
constexpr int kIp6tSoOriginalDst = 80;
}  // namespace

Result<SocketAddress> originalDestination(int fd) {
  sockaddr_storage local{};
  socklen_t localLen = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLen) != 0) {
    return makeError(std::string("getsockname: ") + std::strerror(errno));
  }
  sockaddr_storage original{};
  socklen_t len = sizeof original;
  int rc = -1;
  if (local.ss_family == AF_INET) {
    rc = ::getsockopt(fd, SOL_IP, kSoOriginalDst, &original, &len);
  } else if (local.ss_family == AF_INET6) {
    rc = ::getsockopt(fd, SOL_IPV6, kIp6tSoOriginalDst, &original, &len);
  }
  // ENOENT: conntrack has no NAT entry for it (TPROXY, or no redirect at
  // all): the local address is where the client was going.
  if (rc == 0 && len > 0)
    return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&original), len);
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&local), localLen);
}

Result<void> makeTransparent(int fd, int family) {
  int one = 1;
  const int rc = family == AF_INET6 ? ::setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one)
                                    : ::setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
  if (rc != 0) {
    return makeError(std::string("IP_TRANSPARENT (tproxy needs CAP_NET_ADMIN): ") +
                     std::strerror(errno));
  }
  return {};
}

}  // namespace portcullis::net
