#pragma once
// The CLI's way to the running daemon's admin listener: `portcullis status`
// and `portcullis unblock` find it from `-c FILE` like every other
// subcommand, or from `--admin ADDRESS`.

#include <optional>
#include <ostream>
#include <string>

#include "daemon/admin/status_client.h"

namespace portcullis::admin {

/// What the command line said about where the admin listener is.
struct AdminTarget {
  std::string configPath;     ///< -c FILE (or the default path)
  bool configGiven = false;   ///< -c was on the command line
  std::string address;        ///< --admin ADDRESS (or the default 127.0.0.1:3129)
  bool addressGiven = false;  ///< --admin was on the command line
};

/// --admin when given; else [admin] listen of the config file (-c, or the
/// default file when it loads); else the default address. A config given
/// with -c that does not load, or whose admin listener is off, is an error
/// (printed to `err`; nullopt).
std::optional<std::string> resolveAdminAddress(const AdminTarget& target, std::ostream& err);

/// `portcullis status`: runStatus() on the resolved address; 2 when it
/// cannot be resolved.
int runStatus(const AdminTarget& target, const StatusOptions& options, std::ostream& out,
              std::ostream& err);

/// `portcullis validate -c FILE --against-running`: validates FILE like
/// `validate`, then asks the running daemon (found like `status`) for the
/// values its restart-only keys run with (GET /status?format=restart-only)
/// and prints each one FILE changes: a reload would report it in
/// `restart_required` and keep the running value. Exit code: validate's when
/// FILE is invalid, else 0 (whether or not a restart is needed), 1 when the
/// daemon cannot be asked, 2 when its address cannot be found.
int runValidateAgainstRunning(const AdminTarget& target, bool strict, std::ostream& out,
                              std::ostream& err);

/// `portcullis unblock IP`: POST /unblock?ip=IP. Exit code 0 unblocked,
/// 1 not blocked or the daemon could not be reached, 2 bad arguments.
int runUnblock(const AdminTarget& target, const std::string& ip, std::ostream& out,
               std::ostream& err);

}  // namespace portcullis::admin
