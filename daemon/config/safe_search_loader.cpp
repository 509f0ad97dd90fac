#include "daemon/config/safe_search_loader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "acl/list_file.h"
#include "acl/policy_impl.h"
#include "daemon/config/source_set_ref.h"

namespace portcullis::config {

namespace {

/// A service, its modes and their documented forced-safe names.
struct ServiceSpec {
  std::string_view key;
  std::string_view strict;
  std::string_view moderate;  ///< "" = no moderate mode
};

// Google: support.google.com/websearch/answer/186669; YouTube:
// support.google.com/a/answer/6214622; Bing: help.bing.microsoft.com
// ("Block adult content with SafeSearch"). Cited in etc/safe-search/*.txt.
constexpr ServiceSpec kServices[] = {
    {"google", "forcesafesearch.google.com", ""},
    {"youtube", "restrict.youtube.com", "restrictmoderate.youtube.com"},
    {"bing", "strict.bing.com", ""},
};

std::shared_ptr<const acl::HostSet> readHosts(TomlReader& r, const toml::node& at,
                                              const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.error(at.source(), "cannot read safe-search list '" + path + "': " + std::strerror(errno));
    return nullptr;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto hosts = std::make_shared<acl::HostSet>();
  std::vector<acl::ListIssue> issues;
  const acl::ListStats stats = acl::parseHostList(ss.str(), *hosts, issues);
  for (const acl::ListIssue& i : issues) {
    r.add(Severity::kError, path, i.line, i.column, i.message);
  }
  if (stats.entries == 0) r.error(at.source(), "safe-search list '" + path + "' has no host name");
  return hosts;
}

/// The `key` service of table `t`: "off" (the default) or one of its modes.
void readService(TomlReader& r, const toml::table& t, const ServiceSpec& spec,
                 const std::string& dir, SafeSearchRule& rule) {
  std::string mode;
  if (!r.getString(t, spec.key, mode) || mode == "off") return;
  std::string safe;
  if (mode == "strict") safe = spec.strict;
  if (mode == "moderate") safe = spec.moderate;
  if (safe.empty()) {
    r.error(t.get(spec.key)->source(),
            "'" + std::string(spec.key) + "' must be \"off\", \"strict\"" +
                (spec.moderate.empty() ? "" : " or \"moderate\"") + ", not \"" + mode + "\"");
    return;
  }
  const std::string path = dir + "/" + std::string(spec.key) + ".txt";
  auto hosts = readHosts(r, *t.get(spec.key), path);
  if (hosts) rule.services.push_back({std::string(spec.key), mode, safe, std::move(hosts)});
}

}  // namespace

void readSafeSearch(TomlReader& r, const toml::table& root, const acl::Policy* policy,
                    const std::string& baseDir, std::vector<SafeSearchRule>& out) {
  const toml::node* n = root.get("safe_search");
  if (n == nullptr) return;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    r.error(n->source(), "'safe_search' must be written as [[safe_search]] tables");
    return;
  }
  for (const toml::node& item : *arr) {
    const toml::table* t = item.as_table();
    if (t == nullptr) {
      r.error(item.source(), "each [[safe_search]] must be a table");
      continue;
    }
    SafeSearchRule rule;
    auto from = readSourceSetRef(r, *t, "[[safe_search]]", "classrooms", policy);
    if (!from) continue;
    rule.from = from->name;
    rule.sourceIndex = from->index.value_or(0);
    std::string lists = "safe-search";
    r.getString(*t, "lists", lists);
    const std::string dir = configPath(baseDir, lists);
    for (const ServiceSpec& spec : kServices) readService(r, *t, spec, dir, rule);
    out.push_back(std::move(rule));
  }
}

}  // namespace portcullis::config
