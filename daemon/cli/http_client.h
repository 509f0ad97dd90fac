#pragma once
// The one blocking HTTP client of the project, for the CLI (`portcullis
// status`, `reload`, `reopen-logs`, `cache purge`, `unblock`) and the admin
// tests: one request, the reply read to EOF, all under one deadline.

#include <chrono>
#include <map>
#include <string>

#include "daemon/base/result.h"
#include "daemon/cli/blocking_socket.h"

namespace portcullis::cli {

/// A response read to EOF. Header names are lower-cased.
struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

/// Sends `request` (a complete HTTP/1.0 or Connection: close request) to
/// `to`, reads the reply to EOF, all within `timeout`; at most 32 MiB.
Result<HttpReply> httpExchange(const Endpoint& to, const std::string& request,
                               std::chrono::milliseconds timeout);

/// Reads a raw reply ("HTTP/1.x NNN ...", head, CRLF CRLF, body to EOF).
Result<HttpReply> parseHttpReply(const std::string& raw);

}  // namespace portcullis::cli
