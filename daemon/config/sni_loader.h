#pragma once
// The SNI check's configuration: the [server] sni_* keys and the [[sni]]
// tables (per source set choices for no SNI, non-TLS bytes on 443, ECH).

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "acl/policy.h"
#include "daemon/config/config.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// [server] sni_check, sni_timeout, sni_max_size.
void readSniServerKeys(TomlReader& r, const toml::table& server, ServerConfig& s);

/// [[sni]] tables; `from` must name a source set of `policy`.
void readSniRules(TomlReader& r, const toml::table& root, const acl::Policy* policy,
                  std::vector<SniRuleConfig>& out);

/// For `explain`: what the SNI check will ask of a CONNECT from `client` to
/// `host` (one paragraph, ending in a newline).
std::string describeSniCheck(const Config& config, const acl::IpAddress& client,
                             std::string_view host);

/// The [[sni]] that applies to a client in source set `sources` (a
/// predicate over source indexes), or the defaults.
template <class InSource>
SniRuleConfig sniRuleFor(const std::vector<SniRuleConfig>& rules, InSource&& inSource) {
  for (const SniRuleConfig& rule : rules) {
    if (inSource(rule.sourceIndex)) return rule;
  }
  return SniRuleConfig{};
}

}  // namespace portcullis::config
