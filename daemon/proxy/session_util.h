#pragma once
// Small helpers shared by the request path (connection, exchange, upstream).

#include <sys/time.h>

#include <chrono>
#include <string>
#include <string_view>

#include "daemon/http/message.h"
#include "daemon/proxy/error_page.h"
#include "daemon/proxy/termination.h"

namespace portcullis::proxy::detail {

inline timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

inline bool isIdempotent(http::Method m) {
  return m == http::Method::kGet || m == http::Method::kHead || m == http::Method::kOptions ||
         m == http::Method::kTrace || m == http::Method::kPut || m == http::Method::kDelete;
}

/// The reply to a request we refuse to parse or forward (400, 414, 431, 505).
inline ErrorReply protocolError(int status, std::string_view why) {
  return errorReply(Termination::kBadRequest,
                    "The proxy could not accept this request: " + std::string(why) + ".",
                    std::string(why), status);
}

/// The 408 for a client whose request stopped arriving.
inline ErrorReply requestTimeout(std::string message, std::string_view detail) {
  return errorReply(Termination::kClientTimeout, std::move(message), std::string(detail));
}

/// The 502 for an origin's response we will not pass on (RFC 9209
/// http_protocol_error); `message` is the sentence for people.
inline ErrorReply badUpstreamResponse(std::string message, std::string_view detail) {
  return errorReply(Termination::kBadOriginResponse, std::move(message), std::string(detail));
}

}  // namespace portcullis::proxy::detail
