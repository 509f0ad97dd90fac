#include "daemon/config/explain_user.h"

#include <algorithm>

#include "daemon/auth/ldap_directory.h"

namespace portcullis::config {

namespace {

/// Whose bind the directory's answer was read with: the daemon reads the
/// groups with the user's own bind, which the directory's access rules may
/// let see more (or less).
std::string readAs(const auth::LdapSettings& s) {
  return s.bindDn.empty() ? "read anonymously (no bind_dn)"
                          : "read with the service account " + s.bindDn;
}

void printEntry(std::ostream& out, const auth::LdapSettings& s, const auth::LdapAnswer& a) {
  out << "directory entry: " << a.dn;
  if (s.userDn.empty()) {
    out << " (found by search_filter under search_base)\n";
  } else {
    out << " (from user_dn; whether it exists only a bind with the password can tell)\n";
  }
}

void printDirectoryGroups(std::ostream& out, const auth::LdapSettings& s,
                          const auth::LdapAnswer& a) {
  if (s.groupBase.empty()) {
    out << "groups from the directory: none (no group_base)\n";
    return;
  }
  out << "groups from the directory (" << readAs(s)
      << "; a login reads them with the user's own bind, which the directory may let see "
         "other groups):";
  if (a.groups.empty()) out << " none";
  for (const auto& g : a.groups) out << " " << g;
  out << "\n";
}

}  // namespace

bool explainUserGroups(const Config& config, const std::string& user,
                       std::vector<std::string>& groups, std::ostream& out, std::ostream& err) {
  groups = config.auth.groups->groupsOf(user);
  if (user.empty() || !config.auth.ldap) return true;
  const auth::LdapDirectory& directory = *config.auth.ldap;
  const auth::LdapSettings& s = directory.settings();
  const auth::LdapAnswer a = directory.lookup(user);
  if (a.result == auth::VerifyResult::kUnavailable) {
    err << "explain: cannot read the groups of '" << user << "' from the directory (" << s.uri
        << ", " << readAs(s) << "): " << a.error
        << "\nno decision: it depends on those groups (the daemon answers a login it cannot "
           "read the groups of with 503)\n";
    return false;
  }
  if (a.result != auth::VerifyResult::kMatch) {
    out << "directory: " << a.error << " (" << readAs(s)
        << "): this user cannot log in; only [groups] below\n";
    return true;
  }
  printEntry(out, s, a);
  printDirectoryGroups(out, s, a);
  // As the daemon's Exchange::setUser: the directory's add to [groups].
  for (const auto& g : a.groups) {
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  return true;
}

void printIdentity(std::ostream& out, const Config& config, const std::string& user,
                   const std::vector<std::string>& groups) {
  if (user.empty()) {
    out << "user: none (anonymous; a deny that a rule with users would lift is a 407)\n";
    return;
  }
  out << "user: " << user;
  if (!groups.empty()) {
    out << " (groups:";
    for (const auto& g : groups) out << " " << g;
    out << ")";
  }
  if (config.auth.users && config.auth.users->find(user) == nullptr) {
    out << " (not in the users file: this user cannot log in)";
  }
  out << "\n";
}

}  // namespace portcullis::config
