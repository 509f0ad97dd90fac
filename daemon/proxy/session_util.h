#pragma once
// Small helpers shared by the ClientSession implementation files.

#include <sys/time.h>

#include <chrono>
#include <string>
#include <string_view>

#include "daemon/http/message.h"
#include "daemon/proxy/error_page.h"

namespace portcullis::proxy::detail {

inline timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

inline constexpr uint16_t kSmtpPort = 25;

inline bool isIdempotent(http::Method m) {
  return m == http::Method::kGet || m == http::Method::kHead || m == http::Method::kOptions ||
         m == http::Method::kTrace || m == http::Method::kPut || m == http::Method::kDelete;
}

/// The reply to a request we refuse to parse or forward.
inline ErrorReply protocolError(int status, std::string_view why) {
  ErrorReply e;
  e.status = status;
  e.proxyStatusError = "http_request_error";
  e.title = status == 414   ? "Request line too long"
            : status == 431 ? "Request header fields too large"
            : status == 505 ? "HTTP version not supported"
            : status == 501 ? "Not implemented"
                            : "Bad request";
  e.message = "The proxy could not accept this request: " + std::string(why) + ".";
  e.detail = std::string(why);
  return e;
}

/// The 408 for a client whose request stopped arriving.
inline ErrorReply requestTimeout(std::string message, std::string_view detail) {
  ErrorReply e;
  e.status = 408;
  e.proxyStatusError = "http_request_error";
  e.title = "Request timeout";
  e.message = std::move(message);
  e.detail = std::string(detail);
  return e;
}

/// The 502 for an origin's response we will not pass on (RFC 9209
/// http_protocol_error); `message` is the sentence for people.
inline ErrorReply badUpstreamResponse(std::string message, std::string_view detail) {
  ErrorReply e;
  e.status = 502;
  e.proxyStatusError = "http_protocol_error";
  e.title = "Bad answer from the server";
  e.message = std::move(message);
  e.detail = std::string(detail);
  return e;
}

}  // namespace portcullis::proxy::detail
