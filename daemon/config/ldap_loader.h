#pragma once
// [auth.ldap]: the LDAP / Active Directory backend's settings, read and
// checked (one way to find the user, placeholders present, the service
// password file readable), every problem at its file:line:col.

#include <toml++/toml.h>

#include <string>

#include "daemon/config/config.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// Reads [auth.ldap] of the [auth] table `auth` into `a.ldap` (left null when
/// the table is absent or wrong). Paths resolve against `baseDir`.
void readLdap(TomlReader& r, const toml::table& auth, const std::string& baseDir, AuthConfig& a);

}  // namespace portcullis::config
