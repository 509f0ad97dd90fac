#pragma once
// Reads [[safe_search]] tables and their host list files (safe_search.h).

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "acl/policy.h"
#include "daemon/config/safe_search.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// [[safe_search]] tables; list files are found under `lists` (relative to
/// `baseDir`; default "safe-search").
void readSafeSearch(TomlReader& r, const toml::table& root, const acl::Policy* policy,
                    const std::string& baseDir, std::vector<SafeSearchRule>& out);

}  // namespace portcullis::config
