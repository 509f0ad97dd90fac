#include "daemon/config/auth_loader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "daemon/config/config_loader.h"
#include "daemon/config/ldap_loader.h"

namespace portcullis::config {

namespace {

/// Reads a whole file named by `key`; false (reported at the key) when it cannot.
bool readFileAt(TomlReader& r, const toml::table& t, std::string_view key, const std::string& path,
                std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.error(t.get(key)->source(),
            "'" + std::string(key) + "': cannot open '" + path + "': " + std::strerror(errno));
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

void reportIssues(TomlReader& r, const std::string& path,
                  const std::vector<auth::FileIssue>& issues) {
  for (const auto& i : issues) r.add(Severity::kError, path, i.line, 1, i.message);
}

void readListenTls(TomlReader& r, const toml::table& t, ServerConfig& s) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (!r.getStringArray(t, "listen_tls", items, &where)) return;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string err;
    auto la = parseListenAddress(items[i], err);
    if (!la) {
      r.error(where[i], "'listen_tls': " + err);
      continue;
    }
    s.listenTls.push_back(*la);
  }
}

void readGroups(TomlReader& r, const toml::table& root, const std::string& baseDir,
                const toml::table* authTable, auth::Groups& groups) {
  if (const toml::node* n = root.get("groups")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) {
      r.error(n->source(), "'groups' must be a table: [groups] teachers = [\"alice\", \"bob\"]");
    }
    for (auto&& [name, node] : t ? *t : toml::table{}) {
      std::vector<std::string> members;
      std::vector<toml::source_region> where;
      if (!r.getStringArray(*t, name.str(), members, &where)) continue;
      if (!auth::validName(name.str())) {
        r.error(name.source(), "'" + std::string(name.str()) + "' is not a valid group name");
      }
      for (size_t i = 0; i < members.size(); ++i) {
        if (!auth::validName(members[i])) {
          r.error(where[i], "'" + members[i] + "' is not a valid user name");
          continue;
        }
        groups.add(std::string(name.str()), members[i]);
      }
    }
  }
  std::string file;
  if (authTable != nullptr && r.getString(*authTable, "groups_file", file) && !file.empty()) {
    std::string path = configPath(baseDir, file), text;
    if (!readFileAt(r, *authTable, "groups_file", path, text)) return;
    std::vector<auth::FileIssue> issues;
    groups.parseFile(text, issues);
    reportIssues(r, path, issues);
  }
}

void readUsersFile(TomlReader& r, const toml::table& t, const std::string& baseDir, AuthConfig& a) {
  std::string file;
  if (!r.getString(t, "users_file", file) || file.empty()) return;
  a.usersFile = configPath(baseDir, file);
  std::string text;
  if (!readFileAt(r, t, "users_file", a.usersFile, text)) return;
  std::vector<auth::FileIssue> issues;
  auto users = std::make_shared<auth::UsersFile>(auth::UsersFile::parse(text, issues));
  reportIssues(r, a.usersFile, issues);
  if (users->size() == 0 && issues.empty()) {
    r.warning(t.get("users_file")->source(),
              "'users_file': '" + a.usersFile + "' lists no user: nobody can log in");
  }
  a.users = std::move(users);
}

/// Rules that name users need [auth]; the groups they name must exist.
void checkRules(TomlReader& r, const acl::PolicyImpl& p, const AuthConfig& a) {
  for (const acl::Rule& rule : p.rules) {
    if (!rule.needsIdentity()) continue;
    auto at = [&](std::string msg) {
      r.add(Severity::kError, rule.where.file, rule.where.line, rule.where.column, std::move(msg));
    };
    if (!a.enabled()) {
      at("rule '" + rule.name +
         "' names users, but [auth] users_file is not set (nor [auth.ldap]): nobody can "
         "log in");
    }
    // A directory's groups are known only at login.
    if (a.ldap) continue;
    for (const auto& g : rule.groups) {
      if (a.groups->members.count(g) == 0) {
        at("rule '" + rule.name + "' names group:" + g + ", which [groups] does not define");
      }
    }
  }
}

void warnPlaintext(TomlReader& r, const acl::PolicyImpl& p, AuthConfig& a) {
  for (size_t i = 0; i < p.sources.size(); ++i) {
    const acl::SourceSet& s = p.sources[i];
    if (!s.plaintextAuth) continue;
    a.plaintextSources.push_back(i);
    r.add(Severity::kWarning, s.where.file, s.where.line, s.where.column,
          "source set '" + s.name +
              "' has plaintext_auth = true: its clients send passwords "
              "over the plain port, where Basic credentials are only base64, readable by anyone on "
              "the network path; prefer [server] listen_tls");
  }
}

}  // namespace

void readTls(TomlReader& r, const toml::table& t, const std::string& baseDir, ServerConfig& s) {
  readListenTls(r, t, s);
  if (r.getString(t, "tls_certificate", s.tlsCertificate)) {
    s.tlsCertificate = configPath(baseDir, s.tlsCertificate);
  }
  if (r.getString(t, "tls_key", s.tlsKey)) s.tlsKey = configPath(baseDir, s.tlsKey);
  if (s.listenTls.empty()) return;
  if (s.tlsCertificate.empty() || s.tlsKey.empty()) {
    r.error(t.get("listen_tls")->source(),
            "'listen_tls' needs 'tls_certificate' and 'tls_key' (PEM files); "
            "`portcullis tls init DIR --name HOST` makes a pair");
  }
}

void readRuleUsers(TomlReader& r, const toml::table& side, acl::Rule& rule) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (!r.getStringArray(side, "users", items, &where)) return;
  if (items.empty()) r.error(side.get("users")->source(), "'users' is empty");
  for (size_t i = 0; i < items.size(); ++i) {
    const bool group = items[i].starts_with("group:");
    std::string name = group ? items[i].substr(6) : items[i];
    if (!auth::validName(name)) {
      r.error(where[i], "'" + items[i] + "' is not a user name or \"group:NAME\"");
      continue;
    }
    (group ? rule.groups : rule.users).push_back(std::move(name));
  }
}

void readAuth(TomlReader& r, const toml::table& root, const std::string& baseDir,
              const acl::Policy* policy, Config& cfg) {
  AuthConfig& a = cfg.auth;
  const toml::table* t = nullptr;
  if (const toml::node* n = root.get("auth")) {
    t = n->as_table();
    if (t == nullptr) r.error(n->source(), "'auth' must be a table ([auth])");
  }
  auto groups = std::make_shared<auth::Groups>();
  readGroups(r, root, baseDir, t, *groups);
  a.groups = std::move(groups);
  if (t != nullptr) {
    readUsersFile(r, *t, baseDir, a);
    readLdap(r, *t, baseDir, a);
    r.getString(*t, "realm", a.realm);
    if (a.realm.find_first_of("\"\\\r\n") != std::string::npos) {
      r.error(t->get("realm")->source(),
              "'realm' must not contain quotes, backslashes or newlines");
    }
    r.getDuration(*t, "cache_ttl", a.cacheTtl);
    int64_t n = 0;
    if (r.getInteger(*t, "max_failures", 1, 1000000, n)) a.maxFailures = static_cast<uint32_t>(n);
    r.getDuration(*t, "failure_window", a.failureWindow);
    if (r.getInteger(*t, "verifier_threads", 1, 64, n))
      a.verifierThreads = static_cast<unsigned>(n);
  }
  if (policy == nullptr) return;
  checkRules(r, policy->impl(), a);
  warnPlaintext(r, policy->impl(), a);
  if (a.enabled() && cfg.server.listenTls.empty() && a.plaintextSources.empty()) {
    const toml::node* at = t->get("users_file") ? t->get("users_file") : t->get("ldap");
    r.warning(at->source(),
              "[auth] is set but there is no [server] listen_tls and no source set with "
              "plaintext_auth = true: no client can send credentials");
  }
}

}  // namespace portcullis::config
