#pragma once
// sockaddr storage with conversions to and from IpAddress + port.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

#include "acl/ip_address.h"

namespace portcullis::net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  static SocketAddress from(const acl::IpAddress& ip, uint16_t port);
  static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t len);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::optional<acl::IpAddress> ip() const { return acl::IpAddress::fromSockaddr(get()); }
  uint16_t port() const;
  /// "1.2.3.4:80" or "[::1]:80".
  std::string toString() const;
};

}  // namespace portcullis::net
