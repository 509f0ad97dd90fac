#include "daemon/config/pac_loader.h"

#include "acl/policy_impl.h"
#include "daemon/config/config_loader.h"
#include "daemon/http/host_port.h"

namespace portcullis::config {

namespace {

/// "http://h:p", "h:p" -> "PROXY h:p"; "https://h:p" -> "HTTPS h:p" (the
/// PAC keywords of Chrome and Firefox for a TLS proxy). Empty on error.
std::string pacEntry(std::string_view text, std::string& error) {
  std::string_view keyword = "PROXY";
  if (text.starts_with("https://")) {
    keyword = "HTTPS";
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else if (text.find("://") != std::string_view::npos) {
    error = "only http:// and https:// proxies can be listed";
    return {};
  }
  if (!text.empty() && text.back() == '/') text.remove_suffix(1);
  auto hp = http::parseHostPort(text, {.portRequired = true});
  if (!hp) {
    error = hp.error().message;
    return {};
  }
  const bool v6 = hp->host.find(':') != std::string::npos;
  return std::string(keyword) + " " + (v6 ? "[" + hp->host + "]" : hp->host) + ":" +
         std::to_string(hp->port);
}

/// The policy indexes of the sets named in `key`; unknown names are errors.
template <typename Set>
std::vector<size_t> setIndexes(TomlReader& r, const toml::table& t, std::string_view key,
                               const std::vector<Set>* sets, std::string_view kind) {
  std::vector<std::string> names;
  std::vector<toml::source_region> where;
  std::vector<size_t> out;
  if (!r.getStringArray(t, key, names, &where) || sets == nullptr) return out;
  for (size_t i = 0; i < names.size(); ++i) {
    size_t found = sets->size();
    for (size_t s = 0; s < sets->size(); ++s) {
      if ((*sets)[s].name == names[i]) found = s;
    }
    if (found == sets->size()) {
      r.error(where[i], "'" + std::string(key) + "' names '" + names[i] + "', which is not a " +
                            std::string(kind) + " set");
    } else {
      out.push_back(found);
    }
  }
  return out;
}

void readListenAddresses(TomlReader& r, const toml::table& t, PacConfig& pac) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (!r.getStringArray(t, "listen", items, &where)) return;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string err;
    if (auto la = parseListenAddress(items[i], err)) {
      pac.listen.push_back(*la);
    } else {
      r.error(where[i], "'listen': " + err);
    }
  }
}

/// `t` null: no [pac] table; the defaults are derived without complaint.
void readProxies(TomlReader& r, const toml::table* t, const Config& cfg, PacConfig& pac) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (t != nullptr && r.getStringArray(*t, "proxies", items, &where)) {
    for (size_t i = 0; i < items.size(); ++i) {
      std::string err;
      std::string entry = pacEntry(items[i], err);
      if (entry.empty()) {
        r.error(where[i],
                "'proxies': " + err + " (write \"http://host:port\" or \"https://host:port\")");
      } else {
        pac.proxies.push_back(std::move(entry));
      }
    }
    if (items.empty())
      r.error(t->get("proxies")->source(), "'proxies' is empty: list at least one proxy");
    return;
  }
  for (const ListenAddress& la : cfg.server.listen) {
    auto ip = acl::IpAddress::parse(la.host);
    if (!ip || acl::SelfAddresses::isWildcard(*ip) || la.port == 0) {
      if (t == nullptr) return;  // `portcullis pac` says what is missing
      r.error(t->source(), "[pac] needs 'proxies': server.listen '" + la.text +
                               "' is not an address a browser can be sent to, e.g. proxies = "
                               "[\"http://proxy.school.example:3128\"]");
      pac.proxies.clear();
      return;
    }
    std::string err;
    pac.proxies.push_back(pacEntry(la.text, err));
  }
}

}  // namespace

void readPac(TomlReader& r, const toml::table* table, const acl::Policy* policy, Config& cfg) {
  PacConfig& pac = cfg.pac;
  if (table == nullptr) return readProxies(r, nullptr, cfg, pac);
  const toml::table& t = *table;
  readListenAddresses(r, t, pac);
  const acl::PolicyImpl* impl = policy == nullptr ? nullptr : &policy->impl();
  pac.clients = setIndexes(r, t, "clients", impl ? &impl->sources : nullptr, "source");
  pac.direct = setIndexes(r, t, "direct", impl ? &impl->destinations : nullptr, "destination");
  if (!pac.listen.empty() && !t.contains("clients")) {
    r.error(t.get("listen")->source(),
            "[pac] 'listen' needs 'clients', the source sets that may fetch the PAC file, e.g. "
            "clients = [\"classrooms\"]");
  }
  readProxies(r, &t, cfg, pac);
  r.getBool(t, "fallback_direct", pac.fallbackDirect);
  if (pac.fallbackDirect) {
    r.warning(t.get("fallback_direct")->source(),
              "'fallback_direct = true': when no proxy answers, browsers go direct and none of "
              "these rules (or the filter) apply");
  }
}

}  // namespace portcullis::config
