#pragma once
// [server] listen_tls / tls_certificate / tls_key, [auth], [groups], the
// `users` of rules and the plaintext_auth of source sets: read, checked
// against each other, every problem reported at its file:line:col.

#include <toml++/toml.h>

#include <string>

#include "acl/policy_impl.h"
#include "daemon/config/config.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// listen_tls and the certificate pair (paths resolved against `baseDir`;
/// the files must exist; their contents are checked by the daemon, which
/// owns OpenSSL).
void readTls(TomlReader& r, const toml::table& server, const std::string& baseDir, ServerConfig& s);

/// `users = ["alice", "group:teachers"]` of one rule side into `rule`.
void readRuleUsers(TomlReader& r, const toml::table& side, acl::Rule& rule);

/// [auth] and [groups]; checks the rules' users and groups against them and
/// warns about plaintext_auth source sets. `policy` may be null (errors).
void readAuth(TomlReader& r, const toml::table& root, const std::string& baseDir,
              const acl::Policy* policy, Config& cfg);

}  // namespace portcullis::config
