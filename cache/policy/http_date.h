#pragma once
// HTTP-date (RFC 9110 §5.6.7): parse the three historic forms, write
// IMF-fixdate. Pure; no locale, no timegm.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::cache::policy {

/// Seconds since the Unix epoch for an IMF-fixdate, RFC 850 date or asctime
/// date; nullopt when the text is none of these (callers then follow the
/// field's rule for invalid dates, e.g. RFC 9111 §5.3 for Expires).
std::optional<int64_t> parseHttpDate(std::string_view text);

/// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string formatHttpDate(int64_t unixSeconds);

}  // namespace portcullis::cache::policy
