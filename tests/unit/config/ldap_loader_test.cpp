// [auth.ldap]: the escaping of user names for filters and DNs (pure), the
// placeholders, and the loader's checks at file:line:col.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/auth/ldap_escape.h"
#include "daemon/config/config_loader.h"
#include "tests/unit/config/loader_test_util.h"

using namespace portcullis;
using namespace portcullis::config;
using namespace portcullis::config::testing;

TEST_CASE("RFC 4515 filter escaping: an injected filter stays one literal value") {
  CHECK(auth::escapeFilterValue("alice") == "alice");
  CHECK(auth::escapeFilterValue("*)(uid=*") == "\\2a\\29\\28uid=\\2a");
  CHECK(auth::escapeFilterValue("a\\b") == "a\\5cb");
  CHECK(auth::escapeFilterValue(std::string("a\0b", 3)) == "a\\00b");
  CHECK(auth::escapeFilterValue("jos\xc3\xa9") == "jos\xc3\xa9");  // UTF-8 as is
  const std::string filter = auth::expandPlaceholders(
      "(&(objectClass=person)(uid={user}))", {{"user", auth::escapeFilterValue("x)(|(uid=*")}});
  CHECK(filter == "(&(objectClass=person)(uid=x\\29\\28|\\28uid=\\2a))");
}

TEST_CASE("RFC 4514 DN escaping: specials, leading and trailing spaces, '#', control bytes") {
  CHECK(auth::escapeDnValue("alice") == "alice");
  CHECK(auth::escapeDnValue("a,ou=admins") == "a\\,ou\\=admins");
  CHECK(auth::escapeDnValue("a+b\"c;d<e>f\\g") == "a\\+b\\\"c\\;d\\<e\\>f\\\\g");
  CHECK(auth::escapeDnValue(" x ") == "\\20x\\20");
  CHECK(auth::escapeDnValue("#x#") == "\\23x#");
  CHECK(auth::escapeDnValue(std::string("a\0\n", 3)) == "a\\00\\0a");
}

TEST_CASE("placeholders: every occurrence, unknown braces kept") {
  CHECK(auth::expandPlaceholders("uid={user},ou={x}", {{"user", "bob"}}) == "uid=bob,ou={x}");
  CHECK(auth::expandPlaceholders("(|(a={user})(b={dn}))", {{"user", "u"}, {"dn", "d"}}) ==
        "(|(a=u)(b=d))");
  CHECK(auth::expandPlaceholders("{user", {{"user", "u"}}) == "{user");
}

namespace {
std::string passwordFile(const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / "portcullis-ldap-test";
  std::filesystem::create_directories(dir);
  auto path = dir / "bindpw";
  std::ofstream(path) << text;
  return path.string();
}
}  // namespace

TEST_CASE("[auth.ldap] loads: direct bind and search-then-bind") {
  auto r = loadConfigText(
      "[auth]\n[auth.ldap]\nuri = \"ldap://127.0.0.1:3389\"\n"
      "user_dn = \"uid={user},ou=people,dc=school,dc=example\"\n"
      "group_base = \"ou=groups,dc=school,dc=example\"\ntimeout = \"2s\"\n" +
          kPolicy +
          "[[rule]]\nallow = { from = \"lan\", to = \"web\", users = [\"group:staff\"] }\n",
      "t.toml");
  REQUIRE_MESSAGE(r.config, all(r));
  REQUIRE(r.config->auth.ldap);
  CHECK(r.config->auth.enabled());
  const auth::LdapSettings& s = r.config->auth.ldap->settings();
  CHECK(s.groupFilter == "(member={dn})");
  CHECK(s.groupAttribute == "cn");
  CHECK(s.timeout == std::chrono::seconds(2));
  // Groups from the directory are known only at login: no "undefined group" error.
  CHECK(all(r).find("group:staff") == std::string::npos);

  const std::string pw = passwordFile("s3cret\n");
  r = loadConfigText(
      "[auth.ldap]\nuri = \"ldaps://dc1.school.example\"\nsearch_base = \"dc=s\"\n"
      "search_filter = \"(sAMAccountName={user})\"\nbind_dn = \"cn=svc,dc=s\"\n"
      "bind_password_file = \"" +
          pw + "\"\n" + kPolicy,
      "t.toml");
  REQUIRE_MESSAGE(r.config, all(r));
  CHECK(r.config->auth.ldap->settings().bindPassword == "s3cret");
  CHECK(r.config->auth.ldap->identity().find("s3cret") == std::string::npos);

  // A service account with user_dn: logins bind as the user, `explain --user`
  // reads the groups with it; no longer "only used with search_base".
  r = loadConfigText(
      "[auth.ldap]\nuri = \"ldaps://dc1.school.example\"\nuser_dn = \"uid={user},dc=s\"\n"
      "bind_dn = \"cn=svc,dc=s\"\nbind_password_file = \"" +
          pw + "\"\n" + kPolicy,
      "t.toml");
  REQUIRE_MESSAGE(r.config, all(r));
  CHECK(all(r).find("bind_dn") == std::string::npos);
  CHECK(r.config->auth.ldap->settings().bindDn == "cn=svc,dc=s");
}

TEST_CASE("[auth.ldap] diagnostics") {
  const std::string empty = passwordFile("\n");
  struct Case {
    const char* name;
    std::string ldap;
    std::string expect;
    bool fatal = true;
  };
  const std::string dn = "user_dn = \"uid={user},dc=s\"\n";
  const Case cases[] = {
      {"no uri", dn, "t.toml:1:1: error: [auth.ldap] needs 'uri'"},
      {"bad scheme", "uri = \"http://x\"\n" + dn, "t.toml:2:7: error: 'uri': 'http://x' is not"},
      {"neither way", "uri = \"ldaps://x\"\n", "needs exactly one of 'user_dn'"},
      {"both ways", "uri = \"ldaps://x\"\n" + dn + "search_base = \"dc=s\"\n",
       "needs exactly one of 'user_dn'"},
      {"user_dn without {user}", "uri = \"ldaps://x\"\nuser_dn = \"uid=x\"\n",
       "t.toml:3:11: error: 'user_dn' must contain {user}"},
      {"filter without parentheses",
       "uri = \"ldaps://x\"\nsearch_base = \"dc=s\"\nsearch_filter = \"uid={user}\"\n",
       "t.toml:4:17: error: 'search_filter' must be a filter in parentheses"},
      {"bind_dn alone", "uri = \"ldaps://x\"\nsearch_base = \"dc=s\"\nbind_dn = \"cn=a\"\n",
       "'bind_dn' and 'bind_password_file' go together"},
      {"empty service password",
       "uri = \"ldaps://x\"\nsearch_base = \"dc=s\"\nbind_dn = \"cn=a\"\nbind_password_file = \"" +
           empty + "\"\n",
       "is empty (an empty password would be an unauthenticated bind)"},
      {"start_tls on ldaps", "uri = \"ldaps://x\"\nstart_tls = true\n" + dn,
       "'start_tls' is for ldap:// addresses"},
      {"clear text warns", "uri = \"ldap://dc1.school.example\"\n" + dn,
       "warning: 'uri' is ldap:// without start_tls", false},
      {"group filter",
       "uri = \"ldaps://x\"\n" + dn + "group_base = \"dc=s\"\ngroup_filter = \"(x=1)\"\n",
       "'group_filter' must be a filter in parentheses with {dn} or {user}"},
      {"missing CA", "uri = \"ldaps://x\"\nca_file = \"/nonexistent/ca.pem\"\n" + dn,
       "'ca_file': cannot open '/nonexistent/ca.pem'"},
      {"unknown key", "uri = \"ldaps://x\"\n" + dn + "serach_base = \"x\"\n",
       "unknown key 'serach_base' in [auth.ldap]; did you mean 'search_base'?"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = loadConfigText("[auth.ldap]\n" + c.ldap + kPolicy, "t.toml");
    CHECK_MESSAGE(all(r).find(c.expect) != std::string::npos, all(r));
    CHECK((r.config == nullptr) == c.fatal);
  }
  auto r = loadConfigText(
      "[auth]\nusers_file = \"" + empty + "\"\n[auth.ldap]\nuri = \"ldaps://x\"\n" + dn + kPolicy,
      "t.toml");
  CHECK_MESSAGE(all(r).find("choose one login backend") != std::string::npos, all(r));
}

TEST_CASE(
    "LdapDirectory: refusals that never reach the server; an unreachable one is kUnavailable") {
  auth::LdapSettings s;
  s.uri = "ldap://127.0.0.1:1";  // nothing listens on port 1: connection refused at once
  s.userDn = "uid={user},dc=s";
  s.timeout = std::chrono::seconds(2);
  const auth::LdapDirectory dir(s);
  auto a = dir.check("alice", "");
  CHECK(a.result == auth::VerifyResult::kMismatch);
  CHECK(a.error == "empty password");
  a = dir.check("*)(uid=*", "pw");
  CHECK(a.result == auth::VerifyResult::kMismatch);
  a = dir.check("alice", std::string("p\0w", 3));
  CHECK(a.result == auth::VerifyResult::kMismatch);
  a = dir.check("alice", "pw");
  CHECK(a.result == auth::VerifyResult::kUnavailable);
  CHECK_MESSAGE(a.error.find("Can't contact LDAP server") != std::string::npos, a.error);
  CHECK(dir.noteReachable(false));  // a change: log it
  CHECK_FALSE(dir.noteReachable(false));
  CHECK(dir.noteReachable(true));
}
