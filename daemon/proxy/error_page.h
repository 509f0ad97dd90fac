#pragma once
// Errors are real HTTP answers: a status, a small HTML page for a person,
// and a Proxy-Status field (RFC 9209) for a program.

#include <string>
#include <string_view>

#include "daemon/proxy/termination.h"

namespace portcullis::proxy {

struct ErrorReply {
  /// Why the exchange ended; build replies with errorReply() (termination.h)
  /// so status, Proxy-Status and title come from the one table.
  Termination termination = Termination::kBadRequest;
  int status = 500;
  /// RFC 9209 §2.3 error type, e.g. "http_request_denied", "dns_timeout",
  /// "destination_ip_prohibited", "connection_refused", "http_protocol_error".
  std::string proxyStatusError;
  std::string title;    ///< one line: "Access denied"
  std::string message;  ///< what happened and what to do, plain text (escaped here)
  std::string rule;     ///< deciding rule, when an ACL decided
  std::string ruleWhere;  ///< "file:line" of that rule
  std::string detail;   ///< goes into Proxy-Status details (sanitised)
};

/// Full response bytes (head + body). Always "Connection: close" when `close`.
std::string renderErrorResponse(const ErrorReply& reply, std::string_view pseudonym, bool close,
                                bool headOnly = false);

/// HTML-escapes text for the page body.
std::string htmlEscape(std::string_view text);

}  // namespace portcullis::proxy
