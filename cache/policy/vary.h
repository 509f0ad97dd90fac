#pragma once
// Vary (RFC 9111 §4.1): secondary cache keys from the request fields a
// response names.

#include <string>
#include <vector>

#include "daemon/http/header_map.h"

namespace portcullis::cache::policy {

/// Field names listed by the response's Vary fields, lower-cased, de-duplicated,
/// sorted (so that "Vary: A, B" and "Vary: b, a" give the same key). Empty
/// when there is no Vary. A "*" member is kept as "*" (such responses are
/// never stored; see checkStorable).
std::vector<std::string> varyFieldNames(const http::HeaderMap& responseHeaders);

/// The secondary key for a request under a response's Vary names: for each
/// name, "name=<normalised value>" or "name!" when the request lacks the
/// field, joined by '\n'. Normalisation (RFC 9111 §4.1 permits it): field
/// lines combined with ", ", list members trimmed and whitespace runs
/// collapsed; values of Accept, Accept-Encoding, Accept-Language and
/// Accept-Charset lower-cased (case-insensitive tokens). Empty for no names.
std::string secondaryKey(const std::vector<std::string>& varyNames,
                         const http::HeaderMap& requestHeaders);

/// Joins / splits the Vary names for storage ("a,b").
std::string joinVaryNames(const std::vector<std::string>& names);
std::vector<std::string> splitVaryNames(std::string_view joined);

}  // namespace portcullis::cache::policy
