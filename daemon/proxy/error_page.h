#pragma once
// Errors are real HTTP answers: a status, a small HTML page for a person,
// and a Proxy-Status field (RFC 9209) for a program. The page is the
// built-in template or the admin's ([server] error_pages); a client sees
// the deciding rule's name, never the config file's path or line (those
// are in the access log and `portcullis explain`).

#include <string>
#include <string_view>

#include "daemon/config/page_template.h"
#include "daemon/proxy/termination.h"

namespace portcullis::config {
struct Config;
}

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
  std::string rule;     ///< deciding rule's name, when an ACL decided
  std::string detail;   ///< goes into Proxy-Status details (sanitised)
  /// RFC 9110 §11.7.1: the challenge of a 407, e.g. `Basic realm="School"`.
  std::string proxyAuthenticate;
};

/// Full response bytes (head + body). Always "Connection: close" when
/// `close`. `config` (may be null: built-in page, pseudonym "portcullis")
/// gives the templates, the contact line, the organisation and the Via
/// pseudonym. Never fails: templates were checked at config load.
std::string renderErrorResponse(const ErrorReply& reply, const config::Config* config, bool close,
                                bool headOnly = false);

/// HTML-escapes text for a page body.
using config::htmlEscape;

}  // namespace portcullis::proxy
