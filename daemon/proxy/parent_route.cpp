#include "daemon/proxy/parent_route.h"

#include <algorithm>

#include "daemon/proxy/parent_selection.h"

namespace portcullis::proxy {

ParentRoute chooseParents(const config::Config& config, const acl::RequestFacts& facts, bool hashed,
                          std::string_view url, ParentHealth* health,
                          std::chrono::steady_clock::time_point now) {
  ParentRoute route;
  const auto& parents = config.parents;
  if (parents.list.empty()) return route;
  std::vector<ParentCandidate> candidates;
  std::vector<ParentState*> states(parents.list.size(), nullptr);
  for (size_t i = 0; i < parents.list.size(); ++i) {
    const config::ParentConfig& p = parents.list[i];
    const bool forThis = p.to.empty() || std::any_of(p.to.begin(), p.to.end(), [&](size_t set) {
                           return config.policy->destinationMatches(set, facts);
                         });
    if (!forThis) continue;
    if (health != nullptr) states[i] = &health->state(p.name);
    candidates.push_back({i, p.name, p.weight, states[i] == nullptr || states[i]->up(now)});
  }
  route.applies = !candidates.empty();
  auto order = orderParents(candidates, url, {.hashed = hashed, .tryDown = parents.neverDirect});
  for (size_t i : order) {
    const config::ParentConfig& p = parents.list[i];
    ParentHop hop{.name = p.name,
                  .authorization = p.authorization,
                  .state = states[i],
                  .tls = p.tls,
                  .tlsName = p.tlsName};
    hop.port = p.port;
    // A name is resolved when the hop is tried (upstream_parent.cpp).
    if (p.hostIsName) {
      hop.hostName = p.host;
    } else if (auto ip = acl::IpAddress::parse(p.host)) {
      hop.address = net::SocketAddress::from(*ip, p.port);
    } else {
      continue;
    }
    route.hops.push_back(std::move(hop));
  }
  return route;
}

std::string toParentHead(std::string head, const http::Target& target, const ParentHop& hop) {
  const size_t sp1 = head.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? sp1 : head.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return head;  // not a head we built
  head.replace(sp1 + 1, sp2 - sp1 - 1, target.normalizedUri());
  if (!hop.authorization.empty() && head.ends_with("\r\n\r\n")) {
    head.insert(head.size() - 2, "Proxy-Authorization: " + hop.authorization + "\r\n");
  }
  return head;
}

}  // namespace portcullis::proxy
