#pragma once
// The HTML status page served at GET / by the admin listener.

#include <string_view>

namespace portcullis::admin {

/// A self-contained page (inline CSS, JS and canvas; no external assets)
/// that polls /status every 2 s and draws the last hour's hit ratio and
/// bytes saved. Everything from the network is inserted with textContent,
/// never as HTML.
std::string_view statusPageHtml();

/// The Content-Security-Policy the page is served with: nothing but its own
/// inline script/style and fetches to the same origin.
std::string_view statusPageCsp();

}  // namespace portcullis::admin
