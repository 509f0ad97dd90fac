#pragma once
// The user part of `portcullis explain --user NAME`: the groups the rules
// see for NAME, as a login of NAME would have them. With [auth.ldap] that
// means asking the directory now, without the user's password (with the
// service account, or anonymously), by the login's own searches.

#include <ostream>
#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace portcullis::config {

/// Fills `groups` with those of [groups] / groups_file and, with [auth.ldap],
/// the directory's (auth::LdapDirectory::lookup), saying on `out` where they
/// come from and whose bind read them. False, with the reason on `err`, when
/// the directory cannot answer: a decision on fewer groups could be wrong
/// either way (a deny rule's group missing), so explain gives none, as the
/// daemon answers such a login 503 rather than admit it with fewer groups.
bool explainUserGroups(const Config& config, const std::string& user,
                       std::vector<std::string>& groups, std::ostream& out, std::ostream& err);

/// "user: NAME (groups: ...)", or the anonymous line when `user` is "".
void printIdentity(std::ostream& out, const Config& config, const std::string& user,
                   const std::vector<std::string>& groups);

}  // namespace portcullis::config
