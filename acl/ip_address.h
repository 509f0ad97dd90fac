#pragma once
// An IPv4 or IPv6 address as 16 bytes (IPv4 stored v4-mapped, ::ffff:a.b.c.d).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;

namespace portcullis::acl {

class IpAddress {
 public:
  IpAddress() = default;
  /// Parses dotted IPv4 or textual IPv6 (no brackets, no zone); nullopt when invalid.
  static std::optional<IpAddress> parse(std::string_view text);
  /// From a sockaddr_in / sockaddr_in6; nullopt for other families.
  static std::optional<IpAddress> fromSockaddr(const sockaddr* sa);
  static IpAddress fromV4(uint32_t hostOrder);
  static IpAddress fromBytes(const std::array<uint8_t, 16>& bytes) {
    IpAddress a;
    a.bytes_ = bytes;
    return a;
  }

  /// True for IPv4, including an IPv6 v4-mapped address (::ffff:0:0/96).
  bool isV4() const;
  uint32_t v4() const;  ///< host order; only when isV4()
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  /// Canonical text: dotted quad for v4 (also for v4-mapped), RFC 5952 for v6.
  std::string toString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace portcullis::acl
