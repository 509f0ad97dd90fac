// [auth], [groups], listen_tls and users in rules: parsing and every
// diagnostic at its file:line:col; the users file's own parser.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/auth/users_file.h"
#include "daemon/config/config_loader.h"
#include "tests/unit/config/loader_test_util.h"

using namespace portcullis;
using namespace portcullis::config;
using namespace portcullis::config::testing;

namespace {
const char* kBcrypt = "$2y$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";
const char* kYescrypt = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7";

std::filesystem::path writeTemp(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / "portcullis-auth-test";
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("users file: bcrypt and yescrypt lines; every other kind is an error at its line") {
  const std::string text = std::string("# comment\n\nalice:") + kBcrypt + "\nbob:" + kYescrypt +
                           "\ncarol:$apr1$xyz$abc\ndan:{SHA}abc=\neve:plain\nno colon\n" +
                           "bad name:" + kBcrypt + "\nalice:" + kYescrypt + "\n";
  std::vector<auth::FileIssue> issues;
  auth::UsersFile users = auth::UsersFile::parse(text, issues);
  CHECK(users.size() == 2);
  REQUIRE(users.find("alice") != nullptr);
  CHECK(users.find("alice")->line == 3);
  CHECK(users.find("bob")->hash == kYescrypt);
  CHECK(users.find("carol") == nullptr);
  REQUIRE(issues.size() == 6);
  CHECK(issues[0].line == 5);
  CHECK(issues[0].message.find("MD5-crypt") != std::string::npos);
  CHECK(issues[1].message.find("unsalted SHA-1") != std::string::npos);
  CHECK(issues[2].message.find("plain-text") != std::string::npos);
  CHECK(issues[3].line == 8);
  CHECK(issues[4].message.find("not a valid user name") != std::string::npos);
  CHECK(issues[5].message.find("listed twice") != std::string::npos);
  for (const auto& i : issues) CHECK(i.message.find("xyz") == std::string::npos);  // no hash echoed
}

TEST_CASE("groups file: Apache AuthGroupFile lines") {
  auth::Groups g;
  std::vector<auth::FileIssue> issues;
  g.parseFile("teachers: alice bob\n# x\npupils:dave\nbroken line\n", issues);
  CHECK(g.members["teachers"].size() == 2);
  CHECK(g.groupsOf("dave") == std::vector<std::string>{"pupils"});
  CHECK(g.groupsOf("nobody").empty());
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].line == 4);
}

TEST_CASE("[auth], [groups], users and listen_tls load") {
  auto users = writeTemp("users", std::string("alice:") + kBcrypt + "\n");
  auto r = loadConfigText(
      "[server]\nlisten_tls = [\"127.0.0.1:0\"]\ntls_certificate = \"c.pem\"\n"
      "tls_key = \"/k.pem\"\n[auth]\nusers_file = \"" +
          users.string() +
          "\"\nrealm = \"School\"\ncache_ttl = \"30s\"\n[groups]\nteachers = [\"alice\"]\n"
          "[sources]\nlan = [\"10.0.0.0/8\"]\n[destinations]\nweb = { hosts = [\"*\"] }\n"
          "[[rule]]\nallow = { from = \"lan\", to = \"web\", users = [\"group:teachers\", "
          "\"bob\"] }\n",
      "t.toml", "/etc/p");
  REQUIRE_MESSAGE(r.config, all(r));
  const Config& c = *r.config;
  CHECK(c.server.listenTls.size() == 1);
  CHECK(c.server.tlsCertificate == "/etc/p/c.pem");
  CHECK(c.server.tlsKey == "/k.pem");
  CHECK(c.auth.enabled());
  CHECK(c.auth.realm == "School");
  CHECK(c.auth.cacheTtl == std::chrono::seconds(30));
  CHECK(c.auth.groups->groupsOf("alice") == std::vector<std::string>{"teachers"});
  CHECK(all(r).find("no [server] listen_tls") == std::string::npos);
}

TEST_CASE("auth diagnostics name file:line:col") {
  auto users = writeTemp("users-md5", "carol:$apr1$xyz$abc\n");
  struct Case {
    const char* name;
    std::string text;
    std::string expect;
    bool fatal = true;
  };
  const Case cases[] = {
      {"listen_tls without the pair", "[server]\nlisten_tls = [\"127.0.0.1:0\"]\n" + kPolicy,
       "t.toml:2:14: error: 'listen_tls' needs 'tls_certificate' and 'tls_key'"},
      {"bad listen_tls", "[server]\nlisten_tls = [\"nowhere\"]\n" + kPolicy,
       "t.toml:2:15: error: 'listen_tls': "},
      {"users file missing", "[auth]\nusers_file = \"/nonexistent/users\"\n" + kPolicy,
       "t.toml:2:14: error: 'users_file': cannot open '/nonexistent/users'"},
      {"md5 hash in the users file", "[auth]\nusers_file = \"" + users.string() + "\"\n" + kPolicy,
       users.string() + ":1:1: error: user 'carol' has MD5-crypt hash"},
      {"bad realm", "[auth]\nrealm = \"a\\\"b\"\n" + kPolicy,
       "t.toml:2:9: error: 'realm' must not contain quotes"},
      {"bad group member", "[groups]\nt = [\"a b\"]\n" + kPolicy,
       "t.toml:2:6: error: 'a b' is not a valid user name"},
      {"users without [auth]", kPolicy + "[[rule]]\ndeny = { from = \"lan\", users = [\"bob\"] }\n",
       "t.toml:7:1: error: rule 'rule#2' names users, but [auth] users_file is not set"},
      {"empty users", kPolicy + "[[rule]]\ndeny = { from = \"lan\", users = [] }\n",
       "t.toml:8:32: error: 'users' is empty"},
      {"plaintext_auth warns",
       "[sources]\nlan = { cidrs = [\"10.0.0.0/8\"], plaintext_auth = true }\n"
       "[destinations]\nweb = { hosts = [\"*\"] }\n[[rule]]\nallow = { from = \"lan\", to = "
       "\"web\" }\n",
       "t.toml:2:7: warning: source set 'lan' has plaintext_auth = true", false},
      {"unknown [auth] key", "[auth]\nrelam = \"x\"\n" + kPolicy,
       "t.toml:2:1: error: unknown key 'relam' in [auth]; did you mean 'realm'?"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = loadConfigText(c.text, "t.toml");
    CHECK_MESSAGE(all(r).find(c.expect) != std::string::npos, all(r));
    CHECK((r.config == nullptr) == c.fatal);
  }
}
