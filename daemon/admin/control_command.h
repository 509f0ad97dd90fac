#pragma once
// The subcommands that act on a running daemon or its cache directory:
// `portcullis reload`, `portcullis reopen-logs` and `portcullis cache
// stats|purge`. They reach the daemon through its admin listener (the one
// blocking client in status_client.h) or, for reload and reopen-logs, by a
// signal to the PID in [server] pid_file; they never edit a cache directory
// that a running daemon holds (its portcullis.lock, see os/instance_lock.h).

#include <ostream>
#include <string>

namespace portcullis::admin {

enum class ControlAction {
  kReload,      ///< POST /reload, else SIGHUP
  kReopenLogs,  ///< POST /reopen-logs, else SIGUSR1
};

/// Loads `configPath` (a reload refuses a file with errors, printing them),
/// then asks the daemon it describes to act. Returns the exit code: 0 done,
/// 1 the daemon could not be reached or refused, 2 the config is unusable.
int runControl(const std::string& configPath, ControlAction action, std::ostream& out,
               std::ostream& err);

/// `portcullis cache stats` (read-only, from the index) and `cache purge
/// URL`: through the admin listener when a daemon holds the cache directory,
/// refused when that daemon has no admin listener, directly on the directory
/// (holding its lock) when no daemon runs. Exit code as runControl.
int runCacheCommand(const std::string& configPath, bool purge, const std::string& url,
                    std::ostream& out, std::ostream& err);

}  // namespace portcullis::admin
