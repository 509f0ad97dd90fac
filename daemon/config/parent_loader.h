#pragma once
// [[parent]] and [parents] -> ParentsConfig, every problem reported at its
// file:line:col in the same pass as the rest (README "Parent proxies").

#include <toml++/toml.h>

#include <string>

#include "acl/policy.h"
#include "daemon/config/config.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// Reads every [[parent]] of `root` and the [parents] table into
/// cfg.parents; destination set names are resolved against `policy` (null
/// when the rules had errors: names are then not checked). Errors: a
/// missing or duplicate name, an address that is not "host:port" (a name
/// or an IP literal; names are not resolved here), a port of 0 or 25, an IP
/// address that is one of the proxy's own listen addresses (hard:self), a
/// username without password_file (or the reverse), an
/// unreadable password file, an unknown set. A warning when credentials
/// would travel in clear text to a parent that is not on loopback.
void readParents(TomlReader& r, const toml::table& root, const std::string& baseDir,
                 const acl::Policy* policy, Config& cfg);

/// For `portcullis explain`: the [[parent]] entries whose destination sets
/// match the request (`facts`, before DNS) and how one is picked; "" when
/// there are no parents.
std::string describeParents(const Config& config, const acl::RequestFacts& facts);

/// RFC 4648 §4 base64 of `bytes` (padding included).
std::string base64Encode(std::string_view bytes);

}  // namespace portcullis::config
