#include "daemon/config/ldap_loader.h"

#include <fstream>
#include <sstream>

namespace portcullis::config {

namespace {

std::string resolvePath(const std::string& baseDir, const std::string& p) {
  if (p.empty() || p.starts_with('/') || baseDir.empty()) return p;
  return baseDir + "/" + p;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

void readUri(TomlReader& r, const toml::table& t, auth::LdapSettings& s) {
  if (!r.getString(t, "uri", s.uri)) {
    if (t.get("uri") == nullptr) {
      r.error(t.source(), "[auth.ldap] needs 'uri', like \"ldaps://dc1.school.example\"");
    }
    return;
  }
  std::istringstream words(s.uri);
  std::string one;
  bool any = false;
  while (words >> one) {
    any = true;
    if (!one.starts_with("ldap://") && !one.starts_with("ldaps://")) {
      r.error(t.get("uri")->source(), "'uri': '" + one + "' is not an ldap:// or ldaps:// address");
    }
  }
  if (!any) r.error(t.get("uri")->source(), "'uri' is empty");
  r.getBool(t, "start_tls", s.startTls);
  if (s.startTls && contains(s.uri, "ldaps://")) {
    r.error(t.get("start_tls")->source(),
            "'start_tls' is for ldap:// addresses; ldaps:// is TLS from the start");
  }
  const bool loopbackOnly =
      contains(s.uri, "://127.") || contains(s.uri, "://localhost") || contains(s.uri, "://[::1]");
  if (!s.startTls && contains(s.uri, "ldap://") && !loopbackOnly) {
    r.warning(t.get("uri")->source(),
              "'uri' is ldap:// without start_tls: every password crosses the network in clear "
              "text to the directory; use ldaps:// or start_tls = true");
  }
}

/// One way to find the user's DN: a template, or a search.
void readUserLookup(TomlReader& r, const toml::table& t, auth::LdapSettings& s) {
  r.getString(t, "user_dn", s.userDn);
  r.getString(t, "search_base", s.searchBase);
  s.searchFilter = "(uid={user})";
  r.getString(t, "search_filter", s.searchFilter);
  if (s.userDn.empty() == s.searchBase.empty()) {
    r.error(t.source(),
            "[auth.ldap] needs exactly one of 'user_dn' (bind at a DN template, "
            "\"uid={user},ou=people,dc=example\") and 'search_base' (search, then bind)");
  }
  if (!s.userDn.empty() && !contains(s.userDn, "{user}")) {
    r.error(t.get("user_dn")->source(), "'user_dn' must contain {user}");
  }
  if (!s.searchBase.empty() &&
      (!contains(s.searchFilter, "{user}") || !s.searchFilter.starts_with('(') ||
       !s.searchFilter.ends_with(')'))) {
    const toml::node* at = t.get("search_filter");
    r.error(at ? at->source() : t.source(),
            "'search_filter' must be a filter in parentheses with {user}, like "
            "\"(sAMAccountName={user})\"");
  }
}

void readServiceAccount(TomlReader& r, const toml::table& t, const std::string& baseDir,
                        auth::LdapSettings& s) {
  r.getString(t, "bind_dn", s.bindDn);
  std::string file;
  r.getString(t, "bind_password_file", file);
  if (s.bindDn.empty() != file.empty()) {
    r.error(t.get(s.bindDn.empty() ? "bind_password_file" : "bind_dn")->source(),
            "'bind_dn' and 'bind_password_file' go together (the service account the search "
            "binds as)");
    return;
  }
  // With user_dn too: logins bind as the user, but `explain --user` reads the
  // groups with the service account (it has no password to bind with).
  if (file.empty()) return;
  const std::string path = resolvePath(baseDir, file);
  std::ifstream in(path, std::ios::binary);
  std::getline(in, s.bindPassword);  // the first line; a final newline is not part of it
  if (!in && !in.eof()) {
    r.error(t.get("bind_password_file")->source(),
            "'bind_password_file': cannot read '" + path + "'");
  } else if (s.bindPassword.empty()) {
    r.error(t.get("bind_password_file")->source(), "'bind_password_file': '" + path +
                                                       "' is empty (an empty password would be an "
                                                       "unauthenticated bind)");
  }
}

void readGroupLookup(TomlReader& r, const toml::table& t, auth::LdapSettings& s) {
  r.getString(t, "group_base", s.groupBase);
  s.groupFilter = "(member={dn})";
  r.getString(t, "group_filter", s.groupFilter);
  r.getString(t, "group_attribute", s.groupAttribute);
  if (s.groupBase.empty()) return;
  if ((!contains(s.groupFilter, "{dn}") && !contains(s.groupFilter, "{user}")) ||
      !s.groupFilter.starts_with('(') || !s.groupFilter.ends_with(')')) {
    const toml::node* at = t.get("group_filter");
    r.error(at ? at->source() : t.source(),
            "'group_filter' must be a filter in parentheses with {dn} or {user}, like "
            "\"(member={dn})\" or \"(memberUid={user})\"");
  }
  if (s.groupAttribute.empty())
    r.error(t.get("group_attribute")->source(), "'group_attribute' is empty");
}

}  // namespace

void readLdap(TomlReader& r, const toml::table& auth, const std::string& baseDir, AuthConfig& a) {
  const toml::node* n = auth.get("ldap");
  if (n == nullptr) return;
  const toml::table* t = n->as_table();
  if (t == nullptr) {
    r.error(n->source(), "'ldap' must be a table ([auth.ldap])");
    return;
  }
  const size_t errorsBefore = r.errorCount();
  auth::LdapSettings s;
  readUri(r, *t, s);
  if (r.getString(*t, "ca_file", s.caFile)) {
    s.caFile = resolvePath(baseDir, s.caFile);
    if (!std::ifstream(s.caFile)) {
      r.error(t->get("ca_file")->source(), "'ca_file': cannot open '" + s.caFile + "'");
    }
  }
  readUserLookup(r, *t, s);
  readServiceAccount(r, *t, baseDir, s);
  readGroupLookup(r, *t, s);
  if (r.getDuration(*t, "timeout", s.timeout) && s.timeout.count() <= 0) {
    r.error(t->get("timeout")->source(), "'timeout' must be more than 0s");
  }
  if (!a.usersFile.empty()) {
    r.error(n->source(),
            "[auth] has both users_file and [auth.ldap]: choose one login backend (put local "
            "accounts in the directory, or use the users file alone)");
  }
  if (r.errorCount() == errorsBefore) {
    a.ldap = std::make_shared<const auth::LdapDirectory>(std::move(s));
  }
}

}  // namespace portcullis::config
