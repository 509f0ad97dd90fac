#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/config/commands.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/explain_user.h"

using namespace portcullis::config;

namespace {

struct TempConfig {
  std::filesystem::path path;
  explicit TempConfig(const std::string& text) {
    path = std::filesystem::temp_directory_path() / "pc_explain_user_test.toml";
    std::ofstream(path) << text;
  }
  ~TempConfig() { std::filesystem::remove(path); }
};

const std::string kRules =
    "[server]\nlisten = [\"127.0.0.1:3128\"]\n"
    "[sources]\nlan = [\"10.0.0.0/8\"]\n"
    "[destinations]\nweb = { hosts = [\"*\"], ports = [80] }\n"
    "[[rule]]\nname = \"teachers\"\n"
    "allow = { from = \"lan\", to = \"web\", users = [\"group:teachers\"] }\n"
    "[groups]\nteachers = [\"alice\"]\n";

// Port 1 on loopback: nothing listens, the connect is refused at once.
const std::string kDeadDirectory =
    "[auth]\n[auth.ldap]\nuri = \"ldap://127.0.0.1:1\"\n"
    "user_dn = \"uid={user},ou=people,dc=s\"\ngroup_base = \"ou=groups,dc=s\"\ntimeout = \"1s\"\n";

}  // namespace

TEST_CASE("explain --user without [auth.ldap]: the groups of [groups], nothing asked") {
  std::string rules = kRules;
  rules.replace(rules.find(", users = "), std::string(", users = [\"group:teachers\"]").size(), "");
  TempConfig c(rules);
  LoadResult r = loadConfigFile(c.path.string());
  REQUIRE(r.config);
  std::vector<std::string> groups;
  std::ostringstream out, err;
  CHECK(explainUserGroups(*r.config, "alice", groups, out, err));
  CHECK(groups == std::vector<std::string>{"teachers"});
  CHECK(out.str().empty());
  CHECK(err.str().empty());
}

TEST_CASE("explain --user: a directory that cannot answer gives no decision (exit 2)") {
  TempConfig c(kRules + kDeadDirectory);
  std::ostringstream out, err;
  // alice is a teacher in [groups]: deciding on those alone would say ALLOW,
  // though a deny rule's group from the directory might say otherwise.
  CHECK(runExplain(c.path.string(), "10.1.1.1", "http://www.example.org/", "", out, err, {},
                   "alice") == 2);
  CAPTURE(out.str());
  CHECK(err.str().find("cannot read the groups of 'alice' from the directory "
                       "(ldap://127.0.0.1:1, read anonymously (no bind_dn))") != std::string::npos);
  CHECK(err.str().find("no decision") != std::string::npos);
  CHECK(out.str().find("ALLOW") == std::string::npos);
  CHECK(out.str().find("DENY") == std::string::npos);
}

TEST_CASE("explain --user with [auth.ldap]: what needs no directory does not ask it") {
  TempConfig c(kRules + kDeadDirectory);
  SUBCASE("anonymous") {
    std::ostringstream out, err;
    CHECK(runExplain(c.path.string(), "10.1.1.1", "http://www.example.org/", "", out, err) == 1);
    CHECK(out.str().find("user: none") != std::string::npos);
    CHECK(err.str().empty());
  }
  SUBCASE("a name a login could not have is refused before any connection") {
    std::ostringstream out, err;
    CHECK(runExplain(c.path.string(), "10.1.1.1", "http://www.example.org/", "", out, err, {},
                     "a*b") == 1);
    CAPTURE(err.str());
    CHECK(out.str().find("directory: not a valid user name (read anonymously (no bind_dn)): "
                         "this user cannot log in") != std::string::npos);
  }
}
