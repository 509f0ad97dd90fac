#pragma once
// The pages a client sees when the proxy answers with an error, like Squid's
// error_directory: a built-in page, or the admin's templates from
// [server] error_pages (error.html for every error, NNN.html for status NNN).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/page_template.h"

namespace portcullis::config {

/// The placeholders an error page may use; a value's index in
/// PageTemplate::render() is its index here.
enum class ErrorField : size_t {
  kStatus,
  kReason,
  kTitle,
  kMessage,
  kRule,
  kContact,
  kOrganisation,
  kProxy
};
inline constexpr size_t kErrorFields = 8;
/// "status", "reason", "title", "message", "rule", "contact", "organisation", "proxy".
const std::vector<std::string_view>& errorPagePlaceholders();

/// Templates read from one directory at config load.
struct ErrorPages {
  std::string dir;                       ///< as resolved (for messages)
  PageTemplate page;                     ///< error.html
  std::map<int, PageTemplate> byStatus;  ///< NNN.html, when present
  /// The template for `status`: NNN.html, else error.html.
  const PageTemplate& forStatus(int status) const;
};

/// The built-in page (self-contained: inline style, no external resource).
const PageTemplate& defaultErrorPage();

}  // namespace portcullis::config
