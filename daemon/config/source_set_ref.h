#pragma once
// `from = "<source set>"` in the sections that apply per source set
// ([[limit]], [[sni]], [[safe_search]]): one reader, one set of messages.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "acl/policy.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// A resolved `from`: the set's name and, when the policy loaded, its index.
struct SourceSetRef {
  std::string name;
  std::optional<size_t> index;  ///< nullopt when the policy did not load
};

/// Reads `from` of one `section` table (e.g. "[[sni]]"). A missing or unknown
/// name is reported at its line and column, with `example` as the set a
/// correct line would name, and gives nullopt. Without a policy (its own
/// errors are already reported) any name is accepted unresolved.
std::optional<SourceSetRef> readSourceSetRef(TomlReader& r, const toml::table& t,
                                             std::string_view section, std::string_view example,
                                             const acl::Policy* policy);

}  // namespace portcullis::config
