#pragma once
// [pac] -> PacConfig, with every problem reported at its file:line:col (see
// README "Browser set-up: the PAC file").

#include <toml++/toml.h>

#include "acl/policy.h"
#include "daemon/config/config.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// Reads the [pac] table `t`, or only derives the defaults when it is null
/// (set names resolved against `policy`, which may
/// be null when the rules had errors) into cfg.pac. Proxies default to the
/// server.listen addresses; errors: an unknown set name, a bad proxy entry,
/// listen without clients, no usable proxy (a wildcard listen and no
/// 'proxies'). A warning when fallback_direct is on.
void readPac(TomlReader& r, const toml::table* t, const acl::Policy* policy, Config& cfg);

}  // namespace portcullis::config
