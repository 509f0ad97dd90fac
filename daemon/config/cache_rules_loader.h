#pragma once
// [[cache.refresh]] and [[cache.alias]] -> cache::policy::CacheRules, with
// every problem reported at its file:line:col (see README "Update day").

#include <toml++/toml.h>

#include "daemon/config/config.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// Reads the refresh rules and cache aliases of the [cache] table `t` into
/// c.rules (always set, possibly empty). Errors: bad host patterns, bad
/// globs, min > max, an alias for "*", a host pattern aliased to two
/// identities. Warnings: a refresh rule an earlier one always matches first,
/// a pattern listed twice, a pattern inside another alias's wildcard.
void readCacheRules(TomlReader& r, const toml::table& t, CacheConfig& c);

}  // namespace portcullis::config
