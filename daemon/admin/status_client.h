#pragma once
// `portcullis status`: a blocking client of the admin listener for the
// terminal. Also the tiny HTTP client the admin tests use.

#include <atomic>
#include <chrono>
#include <map>
#include <ostream>
#include <string>

#include "daemon/admin/admin_address.h"
#include "daemon/base/result.h"

namespace portcullis::admin {

/// A response read to EOF. Header names are lower-cased.
struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

/// Sends `request` (a complete HTTP/1.0 or Connection: close request) to
/// `addr`, reads the reply to EOF, all within `timeout`; at most 32 MiB.
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
