#pragma once
// Serialises heads for the wire.

#include <string>

#include "daemon/http/message.h"

namespace portcullis::http {

/// "METHOD target HTTP/1.1\r\n" + fields + "\r\n".
void writeRequestHead(std::string& out, std::string_view method, std::string_view target,
                      const HeaderMap& headers);

/// "HTTP/1.1 status reason\r\n" + fields + "\r\n".
void writeResponseHead(std::string& out, int status, std::string_view reason,
                       const HeaderMap& headers);

/// Standard reason phrase for a status code ("" when unknown).
std::string_view reasonPhrase(int status);

/// Removes hop-by-hop fields (RFC 9110 §7.6.1): Connection and every field it
/// names, Proxy-Connection, Keep-Alive, TE, Trailer, Transfer-Encoding,
/// Upgrade, Proxy-Authorization, Proxy-Authenticate. Content-Length is kept.
void removeHopByHopFields(HeaderMap& headers);

}  // namespace portcullis::http
