#include "acl/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace portcullis::acl {

namespace {
// ::ffff:0:0/96 — RFC 4291 §2.5.5.2 IPv4-mapped IPv6 address.
constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr v4{};
  // inet_pton(AF_INET) accepts only the strict dotted-quad form (no octal,
  // no short forms like "10.1"), which is what an ACL wants.
  if (inet_pton(AF_INET, buf, &v4) == 1) return fromV4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &v6, 16);
    return fromBytes(b);
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::fromSockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, sa, sizeof sin);
    return fromV4(ntohl(sin.sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, sa, sizeof sin6);
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &sin6.sin6_addr, 16);
    return fromBytes(b);
  }
  return std::nullopt;
}

IpAddress IpAddress::fromV4(uint32_t hostOrder) {
  std::array<uint8_t, 16> b{};
  std::memcpy(b.data(), kMappedPrefix.data(), kMappedPrefix.size());
  b[12] = static_cast<uint8_t>(hostOrder >> 24);
  b[13] = static_cast<uint8_t>(hostOrder >> 16);
  b[14] = static_cast<uint8_t>(hostOrder >> 8);
  b[15] = static_cast<uint8_t>(hostOrder);
  return fromBytes(b);
}

bool IpAddress::isV4() const {
  return std::memcmp(bytes_.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

uint32_t IpAddress::v4() const {
  return (uint32_t{bytes_[12]} << 24) | (uint32_t{bytes_[13]} << 16) |
         (uint32_t{bytes_[14]} << 8) | uint32_t{bytes_[15]};
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (isV4()) {
    in_addr a{};
    a.s_addr = htonl(v4());
    inet_ntop(AF_INET, &a, buf, sizeof buf);
  } else {
    in6_addr a{};
    std::memcpy(&a, bytes_.data(), 16);
    inet_ntop(AF_INET6, &a, buf, sizeof buf);
  }
  return buf;
}

}  // namespace portcullis::acl
