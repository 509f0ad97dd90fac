#pragma once
// Pure rules for turning a client's request into the one sent upstream and
// an origin's response into the one sent back (RFC 9110 §7.6, RFC 9112 §3.2).

#include <optional>
#include <string>
#include <string_view>

#include "daemon/http/message.h"
#include "daemon/http/uri.h"

namespace portcullis::proxy {

/// How the body travels on one side of the proxy.
enum class BodyEncoding { kNone, kContentLength, kChunked, kUntilClose };

/// True when a Via field already names our pseudonym: the request has been
/// through us before (a forwarding loop, RFC 9110 §7.6.3).
bool viaNamesUs(const http::HeaderMap& headers, std::string_view pseudonym);

/// The request head to send upstream: origin-form target, Host from the
/// absolute URI (RFC 9112 §3.2.2), hop-by-hop fields removed, Via appended,
/// Max-Forwards decremented for TRACE/OPTIONS, framing fields set for
/// `bodyEncoding` (Content-Length kept, chunked re-stated).
std::string buildUpstreamRequest(const http::RequestHead& request, const http::Target& target,
                                 BodyEncoding bodyEncoding, uint64_t contentLength,
                                 std::string_view pseudonym);

/// What the client will get, decided from the origin's framing and the
/// client's version: an HTTP/1.0 client never sees chunked; a close-delimited
/// body goes to a 1.1 client re-chunked so the connection can stay open.
BodyEncoding clientBodyEncoding(const http::Framing& upstreamFraming, int clientVersionMinor);

/// The response head for the client: hop-by-hop fields removed, Via added,
/// framing fields for `encoding`, Connection: close when `close`.
std::string buildClientResponse(const http::ResponseHead& response, BodyEncoding encoding,
                                uint64_t contentLength, bool close, std::string_view pseudonym,
                                const http::HeaderMap* extraFields = nullptr);

/// Whether the client connection may carry another request after this one
/// (RFC 9112 §9.3): HTTP/1.1 without "Connection: close", or HTTP/1.0 with
/// "Connection: keep-alive" is NOT honoured (we close 1.0 clients).
bool clientWantsKeepAlive(const http::RequestHead& request);

/// Whether the upstream connection may be reused after this response.
bool upstreamReusable(const http::ResponseHead& response, const http::Framing& framing);

/// Max-Forwards handling for TRACE and OPTIONS (RFC 9110 §7.6.2): returns
/// true when the value is 0, meaning we must answer the request ourselves.
bool maxForwardsExhausted(const http::RequestHead& request);

}  // namespace portcullis::proxy
