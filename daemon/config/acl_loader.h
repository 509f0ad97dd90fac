#pragma once
// [sources], [destinations] and [[rule]] -> acl::Policy, with every problem
// reported at its line and column (and list-file problems at theirs).

#include <memory>
#include <string>

#include "acl/policy.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// Builds the policy. Returns nullptr when any error was reported (the
/// diagnostics say why). List files are read relative to `baseDir`.
std::shared_ptr<acl::Policy> loadPolicy(TomlReader& reader, const toml::table& root,
                                        const std::string& baseDir);

}  // namespace portcullis::config
