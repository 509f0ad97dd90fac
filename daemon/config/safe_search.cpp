#include "daemon/config/safe_search.h"

#include "acl/policy_impl.h"

namespace portcullis::config {

std::optional<SafeSearchSubstitution> safeSearchFor(const std::vector<SafeSearchRule>& rules,
                                                    const acl::Policy& policy,
                                                    const acl::IpAddress& client,
                                                    std::string_view host) {
  const auto& sources = policy.impl().sources;
  for (const SafeSearchRule& rule : rules) {
    if (rule.sourceIndex >= sources.size() || !sources[rule.sourceIndex].cidrs.contains(client)) {
      continue;
    }
    // First matching source set decides, like [[limit]] and [[sni]].
    for (const SafeSearchService& s : rule.services) {
      if (s.hosts && s.hosts->contains(host)) {
        return SafeSearchSubstitution{s.safeName, s.service, s.mode, rule.from};
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace portcullis::config
