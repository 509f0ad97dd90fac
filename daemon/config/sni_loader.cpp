#include "daemon/config/sni_loader.h"

#include <string>

#include "acl/policy_impl.h"
#include "daemon/config/source_set_ref.h"

namespace portcullis::config {

namespace {

void readChoice(TomlReader& r, const toml::table& t, std::string_view key, TlsChoice& out) {
  std::string s;
  if (!r.getString(t, key, s)) return;
  if (s == "allow") {
    out = TlsChoice::kAllow;
  } else if (s == "deny") {
    out = TlsChoice::kDeny;
  } else {
    r.error(t.get(key)->source(),
            "'" + std::string(key) + "' must be \"allow\" or \"deny\", not \"" + s + "\"");
  }
}

}  // namespace

void readSniServerKeys(TomlReader& r, const toml::table& t, ServerConfig& s) {
  r.getBool(t, "sni_check", s.sniCheck);
  r.getDuration(t, "sni_timeout", s.sniTimeout);
  uint64_t size = 0;
  if (r.getSize(t, "sni_max_size", size)) {
    // A ClientHello needs a few hundred bytes; past 64 KiB it is no longer
    // one (RFC 8446 §4.1.2 messages are that small in practice).
    if (size == 0) {
      s.sniMaxBytes = ServerConfig{}.sniMaxBytes;  // 0 = the default, like a unit-less 0 elsewhere
    } else if (size < 512 || size > 65536) {
      r.error(t.get("sni_max_size")->source(), "'sni_max_size' must be from 512 B to 64 KiB");
    } else {
      s.sniMaxBytes = size;
    }
  }
  if (s.sniTimeout.count() <= 0 && t.get("sni_timeout") != nullptr) {
    r.error(t.get("sni_timeout")->source(), "'sni_timeout' must be more than 0");
  }
}

void readSniRules(TomlReader& r, const toml::table& root, const acl::Policy* policy,
                  std::vector<SniRuleConfig>& out) {
  const toml::node* n = root.get("sni");
  if (n == nullptr) return;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    r.error(n->source(), "'sni' must be written as [[sni]] tables");
    return;
  }
  for (const toml::node& item : *arr) {
    const toml::table* t = item.as_table();
    if (t == nullptr) {
      r.error(item.source(), "each [[sni]] must be a table");
      continue;
    }
    SniRuleConfig rule;
    auto from = readSourceSetRef(r, *t, "[[sni]]", "guests", policy);
    if (!from) continue;
    rule.from = from->name;
    rule.sourceIndex = from->index.value_or(0);
    r.getBool(*t, "check", rule.check);
    readChoice(r, *t, "no_sni", rule.noSni);
    readChoice(r, *t, "not_tls", rule.notTls);
    readChoice(r, *t, "ech", rule.ech);
    out.push_back(std::move(rule));
  }
}

std::string describeSniCheck(const Config& config, const acl::IpAddress& client,
                             std::string_view host) {
  const auto& sources = config.policy->impl().sources;
  const SniRuleConfig rule = sniRuleFor(config.sni, [&](size_t i) {
    return i < sources.size() && sources[i].cidrs.contains(client);
  });
  if (!config.server.sniCheck) return "SNI check: off ([server] sni_check = false)\n";
  const std::string from = config.sni.empty() || rule.from.empty()
                               ? std::string("the defaults, no [[sni]] for this client")
                               : "[[sni]] from = \"" + rule.from + "\"";
  if (!rule.check) return "SNI check: off for this client (" + from + ")\n";
  const auto word = [](TlsChoice c) { return c == TlsChoice::kAllow ? "allow" : "deny"; };
  return "SNI check: after the 200 the tunnel's TLS ClientHello must name " + std::string(host) +
         ", or a name this client may CONNECT to by the same rules that resolves to the "
         "connected address; else the tunnel is closed (hard:sni-mismatch). No SNI: " +
         word(rule.noSni) + ", not TLS on port 443: " + word(rule.notTls) +
         ", Encrypted Client Hello offered: " + word(rule.ech) + " (" + from + ")\n";
}

}  // namespace portcullis::config
