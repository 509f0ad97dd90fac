#pragma once
// [[safe_search]]: per source set, the search engines' and YouTube's host
// names are connected to their documented "forced safe" names' addresses
// (forcesafesearch.google.com, restrict.youtube.com /
// restrictmoderate.youtube.com, strict.bing.com), without decrypting
// anything: their certificates are valid for the normal names. The host
// lists are data files (etc/safe-search/*.txt), read at each (re)load
// (safe_search_loader.h).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acl/host_set.h"
#include "acl/ip_address.h"
#include "acl/policy.h"

namespace portcullis::config {

/// One service turned on for a source set: its names go to `safeName`.
struct SafeSearchService {
  std::string service;   ///< "google", "youtube", "bing"
  std::string mode;      ///< "strict", "moderate"
  std::string safeName;  ///< e.g. "forcesafesearch.google.com"
  std::shared_ptr<const acl::HostSet> hosts;
};

/// One [[safe_search]] table.
struct SafeSearchRule {
  std::string from;
  size_t sourceIndex = 0;
  std::vector<SafeSearchService> services;
};

/// The substitution for a request, when one applies.
struct SafeSearchSubstitution {
  std::string safeName;
  std::string service;
  std::string mode;
  std::string from;
};

/// The first [[safe_search]] whose source set holds `client` decides; nullopt
/// when none applies or `host` is none of its services' names.
std::optional<SafeSearchSubstitution> safeSearchFor(const std::vector<SafeSearchRule>& rules,
                                                    const acl::Policy& policy,
                                                    const acl::IpAddress& client,
                                                    std::string_view host);

}  // namespace portcullis::config
