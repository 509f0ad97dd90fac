#pragma once
// The `validate` and `explain` subcommands, printing to given streams so
// they can be tested without a process. main.cpp wires them to the CLI.

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/base/result.h"
#include "daemon/config/config.h"

namespace portcullis::config {

/// `portcullis validate -c FILE [--strict]`: prints every diagnostic to
/// `err` and "configuration OK" to `out` when there is no error (and, with
/// `strict`, no warning). Returns 0 when OK, 1 otherwise.
int runValidate(const std::string& path, bool strict, std::ostream& out, std::ostream& err);

/// `portcullis explain -c FILE --from IP --to URL|HOST:PORT [--method M]`:
/// says which rule decides and why. A URL ("http://host:port/path") is an
/// absolute-form request (method default GET); "host:port" is a CONNECT
/// (unless `method` names another method). Names are not resolved unless
/// `resolve` is given (main passes the daemon's resolver, which uses [dns]
/// of the file): the answer is then "before DNS" and the output says what
/// is checked after DNS. Returns 0 when allowed (so far), 1 when denied, 2
/// on a bad config or bad arguments (or a name that does not resolve).
using HostResolver = std::function<Result<std::vector<acl::IpAddress>>(const DnsConfig& dns,
                                                                       const std::string& host)>;
/// `user` (--user NAME): decide as for that logged-in user, with the groups
/// [groups] gives it and, with [auth.ldap], those the directory gives it
/// (asked now; exit 2 when it cannot answer); "" = an anonymous request (a
/// 407 is said as such).
/// `at` (--at "2026-12-07T10:15", as `until` takes it): decide at that
/// instant instead of now, and say which schedules are open then.
int runExplain(const std::string& path, const std::string& from, const std::string& to,
               const std::string& method, std::ostream& out, std::ostream& err,
               const HostResolver& resolve = {}, const std::string& user = {},
               const std::string& at = {});

}  // namespace portcullis::config
