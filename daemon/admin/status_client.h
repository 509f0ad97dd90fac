#pragma once
// `portcullis status`: a blocking client of the admin listener for the
// terminal, on the one blocking HTTP client (daemon/cli/http_client.h), which
// the admin tests use through httpExchange()/httpGet() too.

#include <atomic>
#include <chrono>
#include <ostream>
#include <string>

#include "daemon/admin/admin_address.h"
#include "daemon/base/result.h"
#include "daemon/cli/http_client.h"

namespace portcullis::admin {

using cli::HttpReply;

/// cli::httpExchange() to the admin listener `addr` (TCP or Unix socket).
Result<HttpReply> httpExchange(const AdminAddress& addr, const std::string& request,
                               std::chrono::milliseconds timeout);

/// GET `target` ("/status?format=text") with HTTP/1.0.
Result<HttpReply> httpGet(const AdminAddress& addr, const std::string& target,
                          std::chrono::milliseconds timeout);

struct StatusOptions {
  bool follow = false;  ///< stream new requests like tail -f
  bool json = false;    ///< raw JSON (the /status document, or JSON lines when following)
  std::chrono::milliseconds pollInterval{1000};
  std::chrono::milliseconds timeout{5000};  ///< per request
  size_t initialLines = 10;                 ///< when following, lines shown at first
  int maxPolls = -1;                        ///< follow: stop after this many polls (-1: never)
  const std::atomic<bool>* stop = nullptr;  ///< follow: stop when it becomes true (SIGINT)
};

/// Prints the daemon's figures (or follows its recent requests) to `out`;
/// problems go to `err`. Returns the process exit code: 0 ok, 1 the admin
/// listener could not be reached or answered an error, 2 bad address.
int runStatus(const std::string& adminAddress, const StatusOptions& options, std::ostream& out,
              std::ostream& err);

/// The form main calls: runStatus(address, {follow, json}, out, err).
int runStatus(const std::string& adminAddress, bool follow, bool json, std::ostream& out,
              std::ostream& err);

}  // namespace portcullis::admin
