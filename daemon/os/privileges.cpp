#include "daemon/os/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace portcullis::os {

namespace {

Error sysError(const std::string& what) {
  return makeError(what + ": " + std::strerror(errno));
}

/// True when the effective capability set is empty. Read with the raw
/// syscall: libcap is not a dependency.
bool effectiveCapsEmpty() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  for (const auto& d : data) {
    if (d.effective != 0 || d.permitted != 0) return false;
  }
  return true;
}

}  // namespace

Result<UserIds> lookupUser(const std::string& name) {
  if (name.empty()) return makeError("empty user name");
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 1024);
  passwd pw{};
  passwd* found = nullptr;
  for (;;) {
    const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0) {
      errno = rc;
      return sysError("looking up user '" + name + "'");
    }
    break;
  }
  if (found == nullptr) return makeError("no such user '" + name + "'");
  return UserIds{name, pw.pw_uid, pw.pw_gid};
}

bool runningAsRoot() {
  return ::geteuid() == 0;
}

RootAction decideRootAction(bool isRoot, const std::string& user, bool allowRoot) {
  if (!isRoot) return RootAction::kNone;
  if (!user.empty()) return RootAction::kDrop;
  return allowRoot ? RootAction::kStayRoot : RootAction::kRefuse;
}

Result<void> dropPrivileges(const std::string& user) {
  auto ids = lookupUser(user);
  if (!ids) return ids.error();
  if (ids->uid == 0) {
    return makeError("user '" + user + "' has uid 0: dropping to it would keep root");
  }
  // Order matters: groups first, while we still may change them; then the
  // gid; the uid last, because after it nothing else may be changed.
  const gid_t gid = ids->gid;
  if (::setgroups(1, &gid) != 0) return sysError("setgroups");
  if (::setresgid(gid, gid, gid) != 0) return sysError("setresgid");
  if (::setresuid(ids->uid, ids->uid, ids->uid) != 0) return sysError("setresuid");

  // Verify rather than trust: a failed drop must never look like success.
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  if (::getresuid(&ruid, &euid, &suid) != 0 || ruid != ids->uid || euid != ids->uid ||
      suid != ids->uid) {
    return makeError("uid is not " + std::to_string(ids->uid) + " after setresuid");
  }
  if (::getresgid(&rgid, &egid, &sgid) != 0 || rgid != gid || egid != gid || sgid != gid) {
    return makeError("gid is not " + std::to_string(gid) + " after setresgid");
  }
  if (::setuid(0) == 0) return makeError("setuid(0) succeeded after dropping privileges");
  if (!effectiveCapsEmpty()) return makeError("capabilities remain after dropping privileges");
  // Exec'ing a set-uid helper can never regain privileges from here on.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sysError("prctl(NO_NEW_PRIVS)");
  return {};
}

}  // namespace portcullis::os
