#pragma once
// Dropping root after the privileged start-up work (binding listeners below
// 1024), for when Portcullis is started as root outside systemd. Under the
// packaged systemd unit it already starts as the `portcullis` user and none
// of this runs.

#include <sys/types.h>
#include <string>

#include "daemon/base/result.h"

namespace portcullis::os {

/// A user account resolved from the passwd database.
struct UserIds {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  ///< the user's primary group
};

/// Looks `name` up with getpwnam_r(). Errors: unknown user, lookup failure.
Result<UserIds> lookupUser(const std::string& name);

/// True when the effective uid is 0.
bool runningAsRoot();

/// What `portcullis run` must do about root, decided before binding anything.
enum class RootAction {
  kNone,      ///< not root: carry on (a configured user is ignored)
  kDrop,      ///< root and a user is configured: drop to it after binding
  kStayRoot,  ///< root, no user, and --allow-root: carry on as root (warn)
  kRefuse,    ///< root, no user, no --allow-root: exit with an error
};

/// Pure decision: `isRoot` (runningAsRoot()), `user` ([server] user, may be
/// empty) and `allowRoot` (the --allow-root flag).
RootAction decideRootAction(bool isRoot, const std::string& user, bool allowRoot);

/// Irreversibly becomes `user`: supplementary groups reduced to the user's
/// primary group, then real/effective/saved gid and uid set to the user's,
/// then PR_SET_NO_NEW_PRIVS. The uid change away from 0 clears every
/// capability (capabilities(7)); this is verified, as is that setuid(0) now
/// fails. Refuses uid 0 as a target. glibc applies the set*id calls to every
/// thread of the process; no_new_privs, a per-thread flag, is set on the
/// calling thread and inherited only by threads it starts afterwards, so call
/// this before starting the worker threads. On error the process may be half
/// dropped and must exit.
Result<void> dropPrivileges(const std::string& user);

}  // namespace portcullis::os
