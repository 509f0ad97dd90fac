#include "daemon/config/self_endpoints.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <string>

#include "daemon/config/config_loader.h"

namespace portcullis::config {

// Without getifaddrs (it needs a netlink socket, which the systemd unit's
// RestrictAddressFamilies= forbids): IPv4 from SIOCGIFCONF on an AF_INET
// socket, IPv6 from /proc/net/if_inet6.
std::vector<acl::IpAddress> localInterfaceAddressesWithoutNetlink() {
  std::vector<acl::IpAddress> out;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    std::array<ifreq, 256> reqs{};
    ifconf conf{};
    conf.ifc_len = static_cast<int>(sizeof(ifreq) * reqs.size());
    conf.ifc_req = reqs.data();
    if (::ioctl(fd, SIOCGIFCONF, &conf) == 0) {
      for (size_t i = 0; i < conf.ifc_len / sizeof(ifreq); ++i) {
        if (auto a = acl::IpAddress::fromSockaddr(&reqs[i].ifr_addr)) out.push_back(*a);
      }
    }
    ::close(fd);
  }
  std::ifstream in("/proc/net/if_inet6");
  std::string hex, rest;
  while (in >> hex && std::getline(in, rest)) {
    if (hex.size() != 32) continue;
    std::array<uint8_t, 16> b{};
    bool ok = true;
    for (size_t i = 0; i < 16 && ok; ++i) {
      const char* p = hex.data() + 2 * i;
      ok = std::from_chars(p, p + 2, b[i], 16).ec == std::errc();
    }
    if (ok) out.push_back(acl::IpAddress::fromBytes(b));
  }
  return out;
}

std::vector<acl::IpAddress> localInterfaceAddresses() {
  std::vector<acl::IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return localInterfaceAddressesWithoutNetlink();
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> guard(list, freeifaddrs);
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (auto a = acl::IpAddress::fromSockaddr(i->ifa_addr)) out.push_back(*a);
  }
  return out;
}

std::vector<acl::SelfAddresses::Endpoint> configuredEndpoints(const Config& cfg) {
  std::vector<acl::SelfAddresses::Endpoint> out;
  for (const auto* list : {&cfg.server.listen, &cfg.server.listenTls}) {
    for (const ListenAddress& la : *list) {
      if (auto ip = acl::IpAddress::parse(la.host)) out.emplace_back(*ip, la.port);
    }
  }
  for (const ListenAddress& la : cfg.server.listenTransparent) {
    if (auto ip = acl::IpAddress::parse(la.host)) out.emplace_back(*ip, la.port);
  }
  std::string err;
  if (auto admin = parseListenAddress(cfg.admin.listen, err)) {
    if (auto ip = acl::IpAddress::parse(admin->host)) out.emplace_back(*ip, admin->port);
  }
  for (const ListenAddress& la : cfg.pac.listen) {
    if (auto ip = acl::IpAddress::parse(la.host)) out.emplace_back(*ip, la.port);
  }
  return out;
}

acl::SelfAddresses selfAddressesFor(std::vector<acl::SelfAddresses::Endpoint> endpoints) {
  const bool wildcard = std::any_of(endpoints.begin(), endpoints.end(), [](const auto& e) {
    return acl::SelfAddresses::isWildcard(e.first);
  });
  return acl::SelfAddresses(std::move(endpoints),
                            wildcard ? localInterfaceAddresses() : std::vector<acl::IpAddress>{});
}

std::shared_ptr<const Config> withBoundEndpoints(const Config& cfg,
                                                 std::vector<acl::SelfAddresses::Endpoint> bound) {
  auto copy = std::make_shared<Config>(cfg);
  if (cfg.policy) {
    // Keep the configured endpoints too: a port 0 there matches nothing, and
    // a configured port the kernel honoured is listed twice, harmlessly.
    auto endpoints = configuredEndpoints(cfg);
    endpoints.insert(endpoints.end(), bound.begin(), bound.end());
    auto policy = std::make_shared<acl::Policy>(*cfg.policy);
    policy->setSelfAddresses(selfAddressesFor(std::move(endpoints)));
    copy->policy = std::move(policy);
  }
  return copy;
}

}  // namespace portcullis::config
