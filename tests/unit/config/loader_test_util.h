#pragma once
// Shared by the config loader tests: a minimal valid policy to append to
// snippets that test other sections, and every diagnostic as one string.

#include <string>

#include "daemon/config/config_loader.h"

namespace portcullis::config::testing {

inline const std::string kPolicy =
    "[sources]\nlan = [\"10.0.0.0/8\"]\n"
    "[destinations]\nweb = { hosts = [\"*\"], ports = [80, 443] }\n"
    "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n";

/// Every diagnostic of `r`, formatted, one per line.
inline std::string all(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.diagnostics) out += d.format() + "\n";
  return out;
}

}  // namespace portcullis::config::testing
