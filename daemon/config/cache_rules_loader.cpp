#include "daemon/config/cache_rules_loader.h"

#include <memory>
#include <string>
#include <vector>

#include "acl/host_set.h"

namespace portcullis::config {

namespace {

namespace policy = cache::policy;

std::string at(const TomlReader& r, const toml::source_region& where) {
  return r.file() + ":" + std::to_string(where.begin.line) + ":" +
         std::to_string(where.begin.column);
}

/// The array of tables under `key` ([[cache.key]]), or nullptr.
const toml::array* tables(TomlReader& r, const toml::table& t, std::string_view key) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return nullptr;
  if (const toml::array* a = n->as_array()) return a;
  r.error(n->source(), "'" + std::string(key) + "' must be written as [[cache." + std::string(key) +
                           "]] tables");
  return nullptr;
}

/// Host patterns as the ACL reads them ("name", "*.name", ".name", "*").
std::vector<policy::HostGlob> readHosts(TomlReader& r, const toml::table& t,
                                        std::vector<toml::source_region>& where) {
  std::vector<std::string> items;
  std::vector<toml::source_region> at;
  std::vector<policy::HostGlob> out;
  if (!r.getStringArray(t, "hosts", items, &at)) return out;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string error;
    auto p = acl::parseHostPattern(items[i], false, error);
    if (!p) {
      r.error(at[i], "'hosts': " + error);
      continue;
    }
    out.push_back(policy::HostGlob{p->name, p->match == acl::HostMatch::kBoth, p->any});
    where.push_back(at[i]);
  }
  return out;
}

bool readPercent(TomlReader& r, const toml::table& t, double& out) {
  const toml::node* n = t.get("percent");
  if (n == nullptr) return true;
  if (n->is_integer()) {
    out = static_cast<double>(n->as_integer()->get());
  } else if (n->is_floating_point()) {
    out = n->as_floating_point()->get();
  } else {
    r.error(n->source(), "'percent' must be a number, not " + TomlReader::typeName(*n));
    return false;
  }
  if (out < 0 || out > 1000) {
    r.error(n->source(),
            "'percent' must be from 0 to 1000 (percent of the time since Last-Modified)");
    return false;
  }
  return true;
}

int64_t seconds(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::seconds>(ms).count();
}

// An earlier rule matches every URL this one does (same or any hosts, a
// path glob of "*" or the same glob): this one is never used.
bool covers(const policy::RefreshRule& earlier, const policy::RefreshRule& later) {
  bool anyHost = earlier.hosts.empty();
  for (const auto& h : earlier.hosts) anyHost = anyHost || h.any;
  bool sameHosts = earlier.hosts.size() == later.hosts.size();
  for (size_t i = 0; sameHosts && i < later.hosts.size(); ++i) {
    sameHosts = earlier.hosts[i].text() == later.hosts[i].text();
  }
  return (anyHost || sameHosts) && (earlier.path == "*" || earlier.path == later.path);
}

void readRefresh(TomlReader& r, const toml::table& t, policy::CacheRules& rules) {
  const toml::array* arr = tables(r, t, "refresh");
  if (arr == nullptr) return;
  for (const toml::node& el : *arr) {
    const toml::table* rt = el.as_table();
    if (rt == nullptr) {
      r.error(el.source(), "each [[cache.refresh]] must be a table");
      continue;
    }
    policy::RefreshRule rule;
    rule.where = at(r, rt->source());
    std::vector<toml::source_region> hostAt;
    rule.hosts = readHosts(r, *rt, hostAt);
    if (r.getString(*rt, "path", rule.path) && !rule.path.starts_with('/') &&
        !rule.path.starts_with('*')) {
      r.error(rt->get("path")->source(),
              "'path' is a glob on the URL path, which starts with '/': e.g. \"/debian/pool/*\"");
    }
    std::chrono::milliseconds min{0}, max{0};
    r.getDuration(*rt, "min", min);
    if (!r.getDuration(*rt, "max", max) && !rt->contains("max")) {
      r.error(
          rt->source(),
          "[[cache.refresh]] needs 'max', the longest heuristic freshness, e.g. max = \"365d\"");
      continue;
    }
    if (min > max) r.error(rt->get("min")->source(), "'min' is longer than 'max'");
    readPercent(r, *rt, rule.heuristic.percent);
    rule.heuristic.minSeconds = seconds(min);
    rule.heuristic.maxSeconds = seconds(max);
    for (const auto& earlier : rules.refresh) {
      if (covers(earlier, rule)) {
        r.warning(rt->source(), "this [[cache.refresh]] never applies: the rule at " +
                                    earlier.where + " matches every URL it does first");
        break;
      }
    }
    rules.refresh.push_back(std::move(rule));
  }
}

bool validIdentity(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// `inner` is matched whole by the wildcard `outer`.
bool inside(const policy::HostGlob& inner, const policy::HostGlob& outer) {
  if (!outer.subdomains || inner.text() == outer.text()) return false;
  return inner.name == outer.name || inner.name.ends_with("." + outer.name);
}

struct SeenPattern {
  policy::HostGlob glob;
  std::string identity;
  std::string where;
};

void checkOverlap(TomlReader& r, const policy::HostGlob& g, const toml::source_region& where,
                  const std::string& identity, const std::vector<SeenPattern>& seen) {
  for (const SeenPattern& s : seen) {
    const std::string other = " at " + s.where + " (identity '" + s.identity + "')";
    if (s.glob.text() == g.text()) {
      if (s.identity != identity) {
        r.error(where, "'" + g.text() + "' is already aliased" + other);
      } else {
        r.warning(where, "'" + g.text() + "' is listed twice; first" + other);
      }
    } else if (s.identity != identity && (inside(g, s.glob) || inside(s.glob, g))) {
      // Within one identity an overlap is harmless ("x.org" and "*.x.org").
      const bool gInner = inside(g, s.glob);
      const std::string& winner = gInner ? identity : s.identity;
      r.warning(where, "'" + g.text() + "' overlaps '" + s.glob.text() + "'" + other +
                           "; hosts matching both get the more specific one's identity ('" +
                           winner + "')");
    }
  }
}

void readAliases(TomlReader& r, const toml::table& t, policy::CacheRules& rules) {
  const toml::array* arr = tables(r, t, "alias");
  if (arr == nullptr) return;
  std::vector<SeenPattern> seen;
  for (const toml::node& el : *arr) {
    const toml::table* entry = el.as_table();
    if (entry == nullptr) {
      r.error(el.source(), "each [[cache.alias]] must be a table");
      continue;
    }
    policy::CacheAlias alias;
    alias.where = at(r, entry->source());
    if (!r.getString(*entry, "identity", alias.identity)) {
      if (!entry->contains("identity")) {
        r.error(entry->source(), "[[cache.alias]] needs 'identity', e.g. identity = \"steam\"");
      }
      continue;
    }
    if (!validIdentity(alias.identity)) {
      r.error(entry->get("identity")->source(),
              "'identity' must be 1-63 lower-case letters, digits or '-' (not first or last), "
              "like \"steam\" or \"windows-update\"");
      continue;
    }
    std::vector<toml::source_region> hostAt;
    alias.hosts = readHosts(r, *entry, hostAt);
    if (!entry->contains("hosts")) {
      r.error(entry->source(),
              "[[cache.alias]] needs 'hosts', e.g. hosts = [\"*.steamcontent.com\"]");
    }
    for (size_t i = 0; i < alias.hosts.size(); ++i) {
      const policy::HostGlob& g = alias.hosts[i];
      if (g.any) {
        r.error(hostAt[i],
                "'hosts': \"*\" would make every host one object per path; name the hosts");
        continue;
      }
      checkOverlap(r, g, hostAt[i], alias.identity, seen);
      seen.push_back(SeenPattern{g, alias.identity, at(r, hostAt[i])});
    }
    rules.aliases.push_back(std::move(alias));
  }
}

}  // namespace

void readCacheRules(TomlReader& r, const toml::table& t, CacheConfig& c) {
  auto rules = std::make_shared<policy::CacheRules>();
  readRefresh(r, t, *rules);
  readAliases(r, t, *rules);
  c.rules = std::move(rules);
}

}  // namespace portcullis::config
