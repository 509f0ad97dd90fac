#include "daemon/proxy/termination.h"

#include "daemon/proxy/error_page.h"

namespace portcullis::proxy {

namespace {
using T = Termination;

// One row per kind, in enum order (checked by the unit test).
constexpr std::array<TerminationInfo, kTerminationKinds> kTable{{
    {"completed", 0, "", ""},
    {"denied_by_rule", 403, "http_request_denied", "Access denied"},
    {"auth_required", 407, "http_request_denied", "Proxy login required"},
    {"destination_prohibited", 403, "destination_ip_prohibited", "Access denied"},
    {"rate_limited", 429, "http_request_denied", "Too many requests"},
    {"bad_request", 400, "http_request_error", "Bad request"},
    {"not_a_proxy_request", 400, "http_request_error", "This is a proxy server"},
    {"method_not_supported", 501, "http_request_error", "Method not supported"},
    {"https_without_connect", 501, "http_request_error", "Use CONNECT for https"},
    {"forwarding_loop", 508, "proxy_loop_detected", "Forwarding loop"},
    {"client_timeout", 408, "http_request_error", "Request timeout"},
    {"client_closed", 0, "", ""},
    {"dns_error", 502, "dns_error", "Unknown host"},
    {"dns_timeout", 504, "dns_timeout", "DNS lookup timed out"},
    {"connect_refused", 502, "connection_refused", "Cannot reach the server"},
    {"connect_timeout", 504, "connection_timeout", "The server did not answer"},
    {"origin_timeout", 504, "connection_read_timeout", "The server took too long"},
    {"origin_closed", 502, "connection_terminated", "The server closed the connection"},
    {"bad_origin_response", 502, "http_protocol_error", "Bad answer from the server"},
    {"origin_body_broken", 0, "", ""},
    {"not_in_cache", 504, "http_request_error", "Not in cache"},
    {"precondition_failed", 412, "", "Precondition failed"},
    {"storage_error", 0, "", ""},
    {"transparent_mismatch", 409, "http_request_denied", "Wrong server"},
    {"auth_unavailable", 503, "proxy_internal_error", "Login server unavailable"},
    {"closed_by_policy", 0, "", ""},
}};

std::string_view badRequestTitle(int status) {
  switch (status) {
    case 414:
      return "Request line too long";
    case 431:
      return "Request header fields too large";
    case 505:
      return "HTTP version not supported";
    case 501:
      return "Not implemented";
    default:
      return kTable[static_cast<size_t>(T::kBadRequest)].title;
  }
}
}  // namespace

const TerminationInfo& describe(Termination kind) {
  return kTable[static_cast<size_t>(kind)];
}

ErrorReply errorReply(Termination kind, std::string message, std::string detail, int status) {
  const auto& row = describe(kind);
  ErrorReply e;
  e.termination = kind;
  e.status = status != 0 ? status : row.status;
  e.proxyStatusError = std::string(row.proxyStatus);
  e.title = std::string(kind == T::kBadRequest ? badRequestTitle(e.status) : row.title);
  e.message = std::move(message);
  e.detail = std::move(detail);
  return e;
}

}  // namespace portcullis::proxy
