#include "daemon/config/acl_loader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "acl/list_file.h"
#include "acl/policy_impl.h"
#include "acl/special_ranges.h"
#include "daemon/config/acl_load_context.h"
#include "daemon/config/acl_warnings.h"
#include "daemon/config/schedule_loader.h"

namespace portcullis::config {

namespace {

constexpr size_t kMaxListIssues = 10;

using Ctx = AclLoadContext;

/// Reads a list file named by the string node `key` of `t`; false on error.
bool readListFile(Ctx& c, const toml::table& t, std::string_view key, std::string& path,
                  std::string& text) {
  std::string name;
  if (!c.r.getString(t, key, name)) return false;
  const toml::node& node = *t.get(key);
  if (name.empty()) {
    c.r.error(node.source(), "'" + std::string(key) + "' is empty; give a file path");
    return false;
  }
  path = configPath(c.baseDir, name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    c.r.error(node.source(), "cannot read list file '" + path + "': " + std::strerror(errno));
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    c.r.error(node.source(), "error while reading list file '" + path + "'");
    return false;
  }
  text = ss.str();
  return true;
}

void reportListIssues(Ctx& c, const std::string& path, const std::vector<acl::ListIssue>& issues,
                      const acl::ListStats& stats, const toml::node& fileNode) {
  for (const acl::ListIssue& i : issues) {
    c.r.add(Severity::kWarning, path, i.line, i.column, i.message + " (line skipped)");
  }
  size_t total = stats.bad + stats.hostBitsSet;
  if (total > issues.size()) {
    c.r.warning(fileNode.source(), "list file '" + path + "' has " + std::to_string(total) +
                                       " bad or suspicious lines; the first " +
                                       std::to_string(issues.size()) + " are shown");
  }
}

std::string hostBitsMessage(std::string_view text, const acl::Cidr& c) {
  std::string addr(text.substr(0, text.find('/')));
  return "'" + std::string(text) + "' has host bits set: it means " + c.toString() +
         " (the whole block); for the single address write \"" + addr + "\"";
}

/// Parses CIDR strings; bad ones are errors, host bits set are warnings.
void parseCidrs(Ctx& c, const std::vector<std::string>& items,
                const std::vector<toml::source_region>& where, std::vector<acl::Cidr>& out,
                std::vector<toml::source_region>* outWhere) {
  for (size_t i = 0; i < items.size(); ++i) {
    acl::CidrParse p = acl::parseCidr(items[i]);
    if (!p.cidr) {
      c.r.error(where[i], "bad CIDR '" + items[i] + "': " + p.error);
      continue;
    }
    if (p.hostBitsSet) c.r.warning(where[i], hostBitsMessage(items[i], *p.cidr));
    out.push_back(*p.cidr);
    if (outWhere != nullptr) outWhere->push_back(where[i]);
  }
}

void collectStrings(Ctx& c, const toml::array& a, const std::string& what,
                    std::vector<std::string>& items, std::vector<toml::source_region>& where) {
  for (const toml::node& el : a) {
    if (!el.is_string()) {
      c.r.error(el.source(),
                "elements of " + what + " must be strings, not " + TomlReader::typeName(el));
      continue;
    }
    items.push_back(el.as_string()->get());
    where.push_back(el.source());
  }
}

void registerSource(Ctx& c, acl::SourceSet set, const toml::node& node) {
  std::string name = set.name;
  c.sourceIndex.emplace(name, c.impl.sources.size());
  c.impl.sources.push_back(std::move(set));
  c.sourceUsed.push_back(false);
  c.sourceWhere.push_back(node.source());
}

void readSourceSet(Ctx& c, const std::string& name, const toml::node& node) {
  acl::SourceSet set;
  set.name = name;
  set.where = location(c, node.source());
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  std::vector<acl::Cidr> fromFile;
  bool fileFailed = false;
  if (const toml::array* a = node.as_array()) {
    collectStrings(c, *a, "source set '" + name + "'", items, where);
  } else if (const toml::table* t = node.as_table()) {
    c.r.getStringArray(*t, "cidrs", items, &where);
    c.r.getBool(*t, "plaintext_auth", set.plaintextAuth);
    std::string path, text;
    if (t->contains("file")) {
      if (readListFile(c, *t, "file", path, text)) {
        std::vector<acl::ListIssue> issues;
        acl::ListStats stats = acl::parseCidrList(text, fromFile, issues, kMaxListIssues);
        reportListIssues(c, path, issues, stats, *t->get("file"));
      } else {
        fileFailed = true;
      }
    }
  } else {
    c.r.error(node.source(), "source set '" + name +
                                 "' must be an array of CIDRs or a table { cidrs = [...], file = "
                                 "\"...\" }, not " +
                                 TomlReader::typeName(node));
    registerSource(c, std::move(set), node);
    return;
  }
  std::vector<acl::Cidr> inlineCidrs;
  std::vector<toml::source_region> cidrWhere;
  parseCidrs(c, items, where, inlineCidrs, &cidrWhere);
  warnOverlaps(c.r, name, inlineCidrs, cidrWhere);
  warnWholeInternet(c.r, name, inlineCidrs, cidrWhere);
  for (const acl::Cidr& x : inlineCidrs) set.cidrs.add(x);
  for (const acl::Cidr& x : fromFile) set.cidrs.add(x);
  set.cidrs.finalize();
  if (set.cidrs.empty() && !fileFailed && items.empty()) {
    c.r.error(node.source(), "source set '" + name +
                                 "' is empty: list client networks, e.g. [\"192.168.1.0/24\"]");
  }
  registerSource(c, std::move(set), node);
}

bool parsePortText(std::string_view text, acl::PortRange& out) {
  auto num = [](std::string_view t, uint16_t& v) {
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || n == 0 || n > 65535) {
      return false;
    }
    v = static_cast<uint16_t>(n);
    return true;
  };
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!num(text, out.first)) return false;
    out.last = out.first;
    return true;
  }
  return num(text.substr(0, dash), out.first) && num(text.substr(dash + 1), out.last) &&
         out.first <= out.last;
}

void readPorts(Ctx& c, const toml::table& t, acl::DestinationSet& set) {
  const toml::node* n = t.get("ports");
  if (n == nullptr) return;
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    c.r.error(n->source(), "'ports' must be an array such as [80, 443, \"8000-8080\"], not " +
                               TomlReader::typeName(*n));
    return;
  }
  if (a->empty()) c.r.error(n->source(), "'ports' is empty; leave it out to allow any port");
  for (const toml::node& el : *a) {
    acl::PortRange range;
    bool ok = false;
    if (el.is_integer()) {
      int64_t v = el.as_integer()->get();
      ok = v >= 1 && v <= 65535;
      range.first = range.last = static_cast<uint16_t>(ok ? v : 0);
    } else if (el.is_string()) {
      ok = parsePortText(el.as_string()->get(), range);
    }
    if (!ok) {
      c.r.error(el.source(),
                "bad port: write an integer from 1 to 65535 or a range \"A-B\" with A <= B");
      continue;
    }
    if (range.first <= 25 && 25 <= range.last) {
      c.r.warning(el.source(), "port 25 (SMTP) is always refused, whatever the rules say");
    }
    set.ports.push_back(range);
  }
}

bool validMethod(std::string_view m) {
  // RFC 9110 §9.1: method = token.
  static constexpr std::string_view kTchar = "!#$%&'*+-.^_`|~";
  return !m.empty() && std::all_of(m.begin(), m.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) ||
           kTchar.find(ch) != std::string_view::npos;
  });
}

void readHosts(Ctx& c, const toml::table& t, acl::DestinationSet& set) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (c.r.getStringArray(t, "hosts", items, &where) && items.empty()) {
    c.r.error(t.get("hosts")->source(), "'hosts' is empty; use [\"*\"] for any host");
  }
  for (size_t i = 0; i < items.size(); ++i) {
    std::string error;
    if (acl::IpAddress::parse(items[i]) || acl::parseCidr(items[i]).cidr) {
      c.r.error(where[i], "'" + items[i] + "' is an address; put addresses in 'cidrs'");
      continue;
    }
    auto p = acl::parseHostPattern(items[i], /*bareMeansBoth=*/false, error);
    if (!p) {
      c.r.error(where[i], "bad host pattern: " + error);
      continue;
    }
    set.hosts.add(*p);
  }
  std::string path, text;
  if (t.contains("hosts_file") && readListFile(c, t, "hosts_file", path, text)) {
    std::vector<acl::ListIssue> issues;
    size_t before = set.hosts.size();
    acl::ListStats stats = acl::parseHostList(text, set.hosts, issues, kMaxListIssues);
    reportListIssues(c, path, issues, stats, *t.get("hosts_file"));
    if (set.hosts.size() == before && stats.entries == 0) {
      c.r.warning(t.get("hosts_file")->source(), "list file '" + path + "' contains no host name");
    }
  }
}

void readDestCidrs(Ctx& c, const toml::table& t, acl::DestinationSet& set) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (c.r.getStringArray(t, "cidrs", items, &where) && items.empty()) {
    c.r.error(t.get("cidrs")->source(), "'cidrs' is empty");
  }
  std::vector<acl::Cidr> cidrs;
  std::vector<toml::source_region> cidrWhere;
  parseCidrs(c, items, where, cidrs, &cidrWhere);
  warnOverlaps(c.r, set.name, cidrs, cidrWhere);
  for (size_t i = 0; i < cidrs.size(); ++i) {
    set.cidrs.add(cidrs[i]);
    if (acl::cidrWithinSpecial(cidrs[i])) {
      set.openedSpecial.add(cidrs[i]);
    } else if (acl::cidrStraddlesSpecial(cidrs[i])) {
      c.r.warning(cidrWhere[i], "'" + cidrs[i].toString() +
                                    "' does not open special ranges (private, loopback, "
                                    "link-local, ...) that it overlaps; to reach one, name a "
                                    "CIDR inside it, e.g. \"10.0.0.0/8\"");
    }
  }
  set.cidrs.finalize();
  set.openedSpecial.finalize();
}

void readWords(Ctx& c, const toml::table& t, std::string_view key, std::vector<std::string>& out,
               bool (*valid)(std::string_view), std::string_view hint) {
  std::vector<toml::source_region> where;
  std::vector<std::string> items;
  if (!c.r.getStringArray(t, key, items, &where)) return;
  if (items.empty())
    c.r.error(t.get(key)->source(),
              "'" + std::string(key) + "' is empty; leave it out to allow any");
  for (size_t i = 0; i < items.size(); ++i) {
    if (!valid(items[i])) {
      c.r.error(where[i], "'" + items[i] + "' is not valid in '" + std::string(key) +
                              "': " + std::string(hint));
      continue;
    }
    out.push_back(items[i]);
  }
}

bool validScheme(std::string_view s) {
  return s == "http" || s == "https" || s == "connect";
}

void readDestinationSet(Ctx& c, const std::string& name, const toml::node& node) {
  acl::DestinationSet set;
  set.name = name;
  set.where = location(c, node.source());
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    c.r.error(node.source(),
              "destination set '" + name +
                  "' must be a table such as { hosts = [\"*\"], ports = [80, 443] }, not " +
                  TomlReader::typeName(node));
  } else {
    if (t->empty()) {
      c.r.error(node.source(),
                "destination set '" + name +
                    "' is empty: give hosts, hosts_file, cidrs, ports, methods or schemes");
    }
    readHosts(c, *t, set);
    readDestCidrs(c, *t, set);
    readPorts(c, *t, set);
    readWords(c, *t, "methods", set.methods, validMethod, "a method is a token such as \"GET\"");
    warnLowerCaseMethods(c.r, *t);
    readWords(c, *t, "schemes", set.schemes, validScheme, "use \"http\", \"https\" or \"connect\"");
  }
  c.destIndex.emplace(name, c.impl.destinations.size());
  c.impl.destinations.push_back(std::move(set));
  c.destUsed.push_back(false);
  c.destWhere.push_back(node.source());
}

void readNamedSets(Ctx& c, const toml::table& root, std::string_view key,
                   void (*readOne)(Ctx&, const std::string&, const toml::node&)) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return;
  const toml::table* t = n->as_table();
  if (t == nullptr) {
    c.r.error(n->source(), "'" + std::string(key) + "' must be a table of named sets");
    return;
  }
  for (auto&& [name, node] : *t) readOne(c, std::string(name.str()), node);
}

/// Sets named by [pac] clients and direct are in use even when no rule names them.
void markPacSets(Ctx& c, const toml::table& root) {
  const toml::table* pac = root["pac"].as_table();
  if (pac == nullptr) return;
  auto mark = [pac](std::string_view key, const auto& sets, std::vector<bool>& used) {
    const toml::array* names = (*pac)[key].as_array();
    if (names == nullptr) return;
    for (const toml::node& n : *names) {
      for (size_t i = 0; i < sets.size(); ++i) {
        if (n.is_string() && sets[i].name == n.as_string()->get()) used[i] = true;
      }
    }
  };
  mark("clients", c.impl.sources, c.sourceUsed);
  mark("direct", c.impl.destinations, c.destUsed);
}

void warnUnused(Ctx& c) {
  for (size_t i = 0; i < c.impl.sources.size(); ++i) {
    if (!c.sourceUsed[i]) {
      c.r.warning(c.sourceWhere[i],
                  "source set '" + c.impl.sources[i].name + "' is not used by any rule");
    }
  }
  for (size_t i = 0; i < c.impl.destinations.size(); ++i) {
    if (!c.destUsed[i]) {
      c.r.warning(c.destWhere[i],
                  "destination set '" + c.impl.destinations[i].name + "' is not used by any rule");
    }
  }
}

}  // namespace

std::shared_ptr<acl::Policy> loadPolicy(TomlReader& reader, const toml::table& root,
                                        const std::string& baseDir) {
  size_t errorsBefore = reader.errorCount();
  Ctx c{reader, baseDir, {}, {}, {}, {}, {}, {}, {}, false};
  readNamedSets(c, root, "sources", readSourceSet);
  readNamedSets(c, root, "destinations", readDestinationSet);
  readSchedules(c, root);
  readRules(c, root);
  warnUnusedSchedules(c, root);
  checkUsable(c, root);
  markPacSets(c, root);
  warnUnused(c);
  if (reader.errorCount() == errorsBefore) warnRuleOrder(reader, c.impl);
  if (reader.errorCount() != errorsBefore) return nullptr;
  return std::make_shared<acl::Policy>(std::make_shared<const acl::PolicyImpl>(std::move(c.impl)));
}

}  // namespace portcullis::config
