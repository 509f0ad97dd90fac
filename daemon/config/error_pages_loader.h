#pragma once
// Loads [server] error_pages (see error_pages.h) for config_loader.

#include <string>

#include "daemon/config/config.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// Reads error_pages, error_contact and organisation of [server] into `s`.
/// A missing directory, a missing or unreadable error.html and a template
/// error are reported (at the key, or at the template's own line:column).
void readErrorPages(TomlReader& r, const toml::table& server, const std::string& baseDir,
                    ServerConfig& s);

}  // namespace portcullis::config
