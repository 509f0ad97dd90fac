#pragma once
// Message body length rules, RFC 9112 §6.1-§6.3, and the smuggling checks.

#include "daemon/base/result.h"
#include "daemon/http/message.h"

namespace portcullis::http {

/// Body framing of a request. Error (status 400) for: Content-Length and
/// Transfer-Encoding together; several Content-Length fields or list
/// members (even equal ones are refused: we never need them); a non-decimal
/// or overflowing Content-Length; a Transfer-Encoding other than exactly a
/// final "chunked" (501 for an unknown coding).
Result<Framing> requestFraming(const RequestHead& head);

/// Body framing of a response to a request with `requestMethod`
/// (RFC 9112 §6.3): HEAD, 1xx, 204, 304 and 2xx to CONNECT have no body;
/// chunked; Content-Length; otherwise until close. Errors (the caller
/// answers 502) for the same ambiguities as requests.
Result<Framing> responseFraming(const ResponseHead& head, Method requestMethod);

/// RFC 9112 §3.2: error (400) when an HTTP/1.1 request has no Host field,
/// when there is more than one Host field line, or when a non-empty Host
/// value is not a valid uri-host[:port] (parseHostPort() of host_port.h).
/// Does not compare Host with an absolute-form target: a proxy uses the
/// target and ignores Host (§3.2.2).
Result<void> checkHostField(const RequestHead& head);

}  // namespace portcullis::http
