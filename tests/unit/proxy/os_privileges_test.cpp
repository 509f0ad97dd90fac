// Privilege helpers. The real drop runs in a forked child (it cannot be
// undone), and only when the test runs as root.

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "daemon/os/privileges.h"

namespace os = portcullis::os;
using os::RootAction;

TEST_CASE("decideRootAction: root needs a user to drop to, or --allow-root") {
  struct Row {
    bool isRoot;
    const char* user;
    bool allowRoot;
    RootAction want;
  };
  const Row rows[] = {
      {false, "", false, RootAction::kNone},
      {false, "", true, RootAction::kNone},
      {false, "portcullis", false, RootAction::kNone},
      {true, "portcullis", false, RootAction::kDrop},
      {true, "portcullis", true, RootAction::kDrop},  // a configured user wins
      {true, "", true, RootAction::kStayRoot},
      {true, "", false, RootAction::kRefuse},
  };
  for (const Row& r : rows) {
    CAPTURE(r.isRoot);
    CAPTURE(r.user);
    CAPTURE(r.allowRoot);
    CHECK(os::decideRootAction(r.isRoot, r.user, r.allowRoot) == r.want);
  }
}

TEST_CASE("runningAsRoot reports the effective uid") {
  CHECK(os::runningAsRoot() == (::geteuid() == 0));
}

TEST_CASE("lookupUser resolves accounts and names the missing ones") {
  auto root = os::lookupUser("root");
  REQUIRE(root.ok());
  CHECK(root->uid == 0);
  CHECK(root->gid == 0);
  CHECK(root->name == "root");

  auto missing = os::lookupUser("portcullis-no-such-user");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("portcullis-no-such-user") != std::string::npos);

  CHECK_FALSE(os::lookupUser("").ok());
}

TEST_CASE("dropPrivileges refuses targets that would not drop anything") {
  // Both fail before any set*id call, so they are safe in this process.
  auto toRoot = os::dropPrivileges("root");
  REQUIRE_FALSE(toRoot.ok());
  CHECK(toRoot.error().message.find("uid 0") != std::string::npos);
  CHECK_FALSE(os::dropPrivileges("portcullis-no-such-user").ok());
  CHECK(::geteuid() == ::getuid());  // untouched
}

namespace {

/// The value of `key` in /proc/self/status, e.g. "CapEff" -> "0000000000000000".
std::string procStatus(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      const auto v = line.find_first_not_of(" \t", key.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return "";
}

/// Runs in the forked child: drops to `ids` and returns a distinct exit code
/// for each check that fails (0: all good).
int dropAndCheck(const os::UserIds& ids) {
  if (!os::dropPrivileges(ids.name).ok()) return 10;
  if (::getuid() != ids.uid || ::geteuid() != ids.uid) return 11;
  if (::getgid() != ids.gid || ::getegid() != ids.gid) return 12;
  gid_t groups[8];
  const int n = ::getgroups(8, groups);
  if (n != 1 || groups[0] != ids.gid) return 13;
  if (::setuid(0) == 0) return 14;
  if (procStatus("CapEff") != "0000000000000000") return 15;
  if (procStatus("CapPrm") != "0000000000000000") return 16;
  if (procStatus("NoNewPrivs") != "1") return 17;
  if (os::runningAsRoot()) return 18;
  return 0;
}

}  // namespace

TEST_CASE("dropPrivileges as root leaves no way back (forked child)") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to drop privileges");
    return;
  }
  auto nobody = os::lookupUser("nobody");
  if (!nobody.ok() || nobody->uid == 0) {
    MESSAGE("skipped: no unprivileged 'nobody' account");
    return;
  }
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(dropAndCheck(*nobody));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  // 10 drop failed, 11 uid, 12 gid, 13 groups, 14 setuid(0) worked,
  // 15/16 capabilities left, 17 no_new_privs unset, 18 still root.
  CHECK(WEXITSTATUS(status) == 0);
}
