#pragma once
// A tiny HTML template for the pages the proxy shows people (error pages).
// `{{name}}` is replaced by a value, HTML-escaped; `{{#name}}...{{/name}}`
// is kept only when the value is not empty (sections may nest). Everything
// else is the template's own HTML, copied as it is. Compiled once at config
// load, so a bad template is a config error, never a failure at request time.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/result.h"

namespace portcullis::config {

/// HTML-escapes text (& < > " ' and C0 controls but \t \n) for a page body.
std::string htmlEscape(std::string_view text);

class PageTemplate {
 public:
  /// Where compile() stopped: 1-based line and column in the template.
  struct Problem {
    int line = 0;
    int column = 0;
    std::string message;
  };

  /// Compiles `text` against the placeholder names it may use (a value's
  /// index in render() is its index in `names`). On error `problem` is set
  /// and the returned template is empty.
  static PageTemplate compile(std::string_view text, const std::vector<std::string_view>& names,
                              Problem& problem);

  /// The page with `values[i]` (HTML-escaped) for the i-th name. Missing
  /// values count as empty. Never fails.
  std::string render(const std::vector<std::string>& values) const;

  bool empty() const { return parts_.empty(); }

 private:
  enum class Kind { kText, kValue, kSectionBegin, kSectionEnd };
  struct Part {
    Kind kind = Kind::kText;
    std::string text;  ///< kText
    size_t index = 0;  ///< kValue / kSection*: the value's index
    size_t end = 0;    ///< kSectionBegin: index of the matching kSectionEnd
  };
  std::vector<Part> parts_;
};

}  // namespace portcullis::config
