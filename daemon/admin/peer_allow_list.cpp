#include "daemon/admin/peer_allow_list.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

namespace portcullis::admin {
namespace {

std::array<uint8_t, 16> mapped(const in_addr& a) {
  std::array<uint8_t, 16> out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out.data() + 12, &a, 4);
  return out;
}

bool inNet(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& net, unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a.data(), net.data(), whole) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (net[whole] & mask);
}

std::optional<unsigned> parsePrefix(const std::string& text, unsigned max) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  unsigned v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

}  // namespace

Result<PeerAllowList> PeerAllowList::parse(const std::vector<std::string>& cidrs) {
  PeerAllowList list;
  for (const auto& entry : cidrs) {
    const auto slash = entry.find('/');
    const std::string host = entry.substr(0, slash);
    const bool hasPrefix = slash != std::string::npos;
    const std::string bits = hasPrefix ? entry.substr(slash + 1) : "";
    Net net;
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
      const auto p = !hasPrefix ? std::optional<unsigned>(32) : parsePrefix(bits, 32);
      if (!p) return makeError("admin allow: bad prefix length in '" + entry + "'");
      net.addr = mapped(v4);
      net.prefix = 96 + *p;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
      const auto p = !hasPrefix ? std::optional<unsigned>(128) : parsePrefix(bits, 128);
      if (!p) return makeError("admin allow: bad prefix length in '" + entry + "'");
      std::memcpy(net.addr.data(), &v6, 16);
      net.prefix = *p;
    } else {
      return makeError("admin allow: '" + entry + "' is not an IP address or CIDR");
    }
    list.nets_.push_back(net);
  }
  return list;
}

bool PeerAllowList::allows(const sockaddr* sa) const {
  if (sa == nullptr) return false;
  std::array<uint8_t, 16> a{};
  if (sa->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, sa, sizeof in);
    a = mapped(in.sin_addr);
  } else if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sa, sizeof in6);
    std::memcpy(a.data(), &in6.sin6_addr, 16);
  } else {
    return false;
  }
  for (const auto& n : nets_) {
    if (inNet(a, n.addr, n.prefix)) return true;
  }
  return false;
}

}  // namespace portcullis::admin
