#pragma once
// TOML -> Config. Every problem is collected; none stops the others.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/config/diagnostic.h"

namespace portcullis::config {

struct LoadResult {
  std::shared_ptr<const Config> config;  ///< null when there is any error
  std::vector<Diagnostic> diagnostics;   ///< errors and warnings, in file order
};

/// Reads and validates the file. Never throws. Relative list-file paths are
/// resolved against the config file's directory.
LoadResult loadConfigFile(const std::string& path);

/// Same from text already in memory (`name` is used in diagnostics).
LoadResult loadConfigText(std::string_view text, const std::string& name,
                          const std::string& baseDir = ".");

/// Parses "IPv4:port" or "[IPv6]:port": an IP literal and a port 0..65535 (0:
/// the kernel picks one), read by http::parseHostPort; `text` is kept as written.
std::optional<ListenAddress> parseListenAddress(std::string_view text, std::string& error);

}  // namespace portcullis::config
