#pragma once
// Escaping a user name before it goes into an LDAP search filter or a DN,
// so that a name like "*)(uid=*" is a literal name and never widens a
// search or names another entry. Pure: strings in, strings out.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::auth {

/// `value` as an assertion value of a search filter (RFC 4515 §3): '*', '(',
/// ')', '\' and NUL become \2a, \28, \29, \5c and \00.
std::string escapeFilterValue(std::string_view value);

/// `value` as an attribute value of a distinguished name (RFC 4514 §2.4):
/// '"', '+', ',', ';', '<', '=', '>' and '\' get a backslash; a leading
/// space or '#', a trailing space, and control bytes (NUL included) become
/// \XX hex pairs.
std::string escapeDnValue(std::string_view value);

/// `pattern` with every "{name}" of `values` replaced by its value (already
/// escaped by the caller); other text, other braces included, is kept.
std::string expandPlaceholders(std::string_view pattern,
                               const std::vector<std::pair<std::string_view, std::string>>& values);

}  // namespace portcullis::auth
