#include "daemon/config/self_endpoints.h"

#include <ifaddrs.h>

#include <algorithm>

#include "daemon/config/config_loader.h"

namespace portcullis::config {

std::vector<acl::IpAddress> localInterfaceAddresses() {
  std::vector<acl::IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> guard(list, freeifaddrs);
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (auto a = acl::IpAddress::fromSockaddr(i->ifa_addr)) out.push_back(*a);
  }
  return out;
}

std::vector<acl::SelfAddresses::Endpoint> configuredEndpoints(const Config& cfg) {
  std::vector<acl::SelfAddresses::Endpoint> out;
  for (const ListenAddress& la : cfg.server.listen) {
    if (auto ip = acl::IpAddress::parse(la.host)) out.emplace_back(*ip, la.port);
  }
  std::string err;
  if (auto admin = parseListenAddress(cfg.admin.listen, err)) {
    if (auto ip = acl::IpAddress::parse(admin->host)) out.emplace_back(*ip, admin->port);
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
