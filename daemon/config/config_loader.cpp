#include "daemon/config/config_loader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "acl/cidr.h"
#include "acl/policy_impl.h"
#include "daemon/config/acl_loader.h"
#include "daemon/config/auth_loader.h"
#include "daemon/config/cache_rules_loader.h"
#include "daemon/config/error_pages_loader.h"
#include "daemon/config/pac_loader.h"
#include "daemon/config/parent_loader.h"
#include "daemon/config/safe_search_loader.h"
#include "daemon/config/self_endpoints.h"
#include "daemon/config/sni_loader.h"
#include "daemon/config/source_set_ref.h"
#include "daemon/config/toml_reader.h"
#include "daemon/http/host_port.h"

namespace portcullis::config {

namespace {

constexpr unsigned kMaxWorkers = 1024;

/// The table under `key`, or nullptr (reporting a wrong type).
const toml::table* section(TomlReader& r, const toml::table& root, std::string_view key) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return nullptr;
  if (const toml::table* t = n->as_table()) return t;
  r.error(n->source(), "'" + std::string(key) + "' must be a table ([" + std::string(key) +
                           "]), not " + TomlReader::typeName(*n));
  return nullptr;
}

/// Reads the listen array `key` into `out`; false when absent or malformed.
bool readListenArray(TomlReader& r, const toml::table& t, std::string_view key,
                     std::vector<ListenAddress>& out) {
  std::vector<std::string> items;
  std::vector<toml::source_region> where;
  if (!r.getStringArray(t, key, items, &where)) return false;
  out.clear();
  for (size_t i = 0; i < items.size(); ++i) {
    std::string err;
    auto la = parseListenAddress(items[i], err);
    if (!la) {
      r.error(where[i], "'" + std::string(key) + "': " + err);
      continue;
    }
    out.push_back(*la);
  }
  return true;
}

void readListen(TomlReader& r, const toml::table& t, ServerConfig& s) {
  if (readListenArray(r, t, "listen", s.listen) && t.get("listen")->as_array()->empty()) {
    r.error(t.get("listen")->source(),
            "'listen' is empty: name at least one address, e.g. \"127.0.0.1:3128\"");
  }
  readListenArray(r, t, "listen_transparent", s.listenTransparent);
  const toml::node* ports = t.get("transparent_tls_ports");
  if (ports == nullptr) return;
  const toml::array* a = ports->as_array();
  if (a == nullptr) {
    r.error(ports->source(), "'transparent_tls_ports' must be an array of ports, e.g. [443]");
    return;
  }
  s.transparentTlsPorts.clear();
  for (const toml::node& n : *a) {
    const auto v = n.value<int64_t>();
    if (!n.is_integer() || !v || *v < 1 || *v > 65535) {
      r.error(n.source(), "'transparent_tls_ports': each port is an integer from 1 to 65535");
      continue;
    }
    s.transparentTlsPorts.push_back(static_cast<uint16_t>(*v));
  }
}

void readServer(TomlReader& r, const toml::table& t, ServerConfig& s) {
  readListen(r, t, s);
  if (const toml::node* w = t.get("workers")) {
    if (w->is_string() && w->as_string()->get() == "auto") {
      s.workers = autoWorkers();
    } else if (w->is_integer()) {
      int64_t n = 0;
      if (r.getInteger(t, "workers", 1, kMaxWorkers, n)) s.workers = static_cast<unsigned>(n);
    } else {
      r.error(w->source(), "'workers' must be \"auto\" or an integer from 1 to 1024");
    }
  }
  int64_t n = 0;
  if (r.getInteger(t, "max_connections", 1, 10'000'000, n)) s.maxConnections = static_cast<uint32_t>(n);
  if (r.getInteger(t, "max_connections_per_client", 1, 10'000'000, n)) {
    s.maxConnectionsPerClient = static_cast<uint32_t>(n);
  }
  r.getDuration(t, "header_timeout", s.headerTimeout);
  r.getDuration(t, "client_idle_timeout", s.clientIdleTimeout);
  r.getDuration(t, "body_timeout", s.bodyTimeout);
  r.getDuration(t, "connect_timeout", s.connectTimeout);
  r.getDuration(t, "first_byte_timeout", s.firstByteTimeout);
  r.getDuration(t, "upstream_idle_timeout", s.upstreamIdleTimeout);
  r.getDuration(t, "tunnel_idle_timeout", s.tunnelIdleTimeout);
  r.getDuration(t, "shutdown_grace", s.shutdownGrace);
  r.getDuration(t, "drain_delay", s.drainDelay);
  std::vector<std::string> balancers;
  std::vector<toml::source_region> where;
  if (r.getStringArray(t, "proxy_protocol_from", balancers, &where)) {
    for (size_t i = 0; i < balancers.size(); ++i) {
      acl::CidrParse p = acl::parseCidr(balancers[i]);
      if (p.cidr) {
        s.proxyProtocolFrom.add(*p.cidr);
      } else {
        r.error(where[i], "'proxy_protocol_from': " + p.error);
      }
    }
    s.proxyProtocolFrom.finalize();
  }
  uint64_t size = 0;
  if (r.getSize(t, "buffer_size", size)) s.bufferBytes = size;
  if (r.getSize(t, "max_request_line", size)) s.maxRequestLine = size;
  if (r.getSize(t, "max_header_size", size)) s.maxHeaderBytes = size;
  if (r.getString(t, "via_pseudonym", s.viaPseudonym) && s.viaPseudonym.empty()) {
    r.error(t.get("via_pseudonym")->source(), "'via_pseudonym' must not be empty");
  }
  r.getString(t, "user", s.user);
  r.getString(t, "pid_file", s.pidFile);
  readSniServerKeys(r, t, s);
  if (s.maxRequestLine > s.maxHeaderBytes) {
    r.warning(t.source(), "'max_request_line' is larger than 'max_header_size'; the head limit wins");
  }
}

void readDns(TomlReader& r, const toml::table& t, DnsConfig& d) {
  std::vector<toml::source_region> where;
  if (r.getStringArray(t, "nameservers", d.nameservers, &where)) {
    for (size_t i = 0; i < d.nameservers.size(); ++i) {
      const std::string& ns = d.nameservers[i];
      if (acl::IpAddress::parse(ns)) continue;  // a bare address, IPv6 without brackets too
      auto hp = http::parseHostPort(ns, {.portRequired = true, .ipOnly = true});
      if (!hp) {
        r.error(where[i],
                "'nameservers': '" + ns + "' is not \"IP\" or \"IP:port\": " + hp.error().message);
      }
    }
  }
  r.getDuration(t, "timeout", d.timeout);
  r.getDuration(t, "min_ttl", d.minTtl);
  r.getDuration(t, "max_ttl", d.maxTtl);
  r.getDuration(t, "negative_ttl", d.negativeTtl);
  r.getBool(t, "hosts_file", d.useHostsFile);
  if (d.minTtl > d.maxTtl) r.error(t.source(), "'min_ttl' is larger than 'max_ttl'");
}

template <class E>
void readEnum(TomlReader& r, const toml::table& t, std::string_view key,
              std::initializer_list<std::pair<std::string_view, E>> values, E& out) {
  std::string s;
  if (!r.getString(t, key, s)) return;
  std::string choices;
  for (const auto& [name, v] : values) {
    if (name == s) {
      out = v;
      return;
    }
    choices += (choices.empty() ? "\"" : ", \"") + std::string(name) + "\"";
  }
  r.error(t.get(key)->source(), "'" + std::string(key) + "' must be one of " + choices + ", not \"" + s + "\"");
}

void readCache(TomlReader& r, const toml::table& t, CacheConfig& c) {
  r.getBool(t, "enabled", c.enabled);
  r.getString(t, "dir", c.dir);
  r.getSize(t, "max_size", c.maxSize);
  r.getSize(t, "max_object_size", c.maxObjectSize);
  r.getSize(t, "memory_size", c.memorySize);
  r.getSize(t, "memory_max_object_size", c.memoryMaxObjectSize);
  r.getSize(t, "min_free_disk", c.minFreeDisk);
  readEnum<EvictionPolicy>(r, t, "eviction",
                           {{"s3fifo", EvictionPolicy::kS3Fifo}, {"lru", EvictionPolicy::kLru}},
                           c.eviction);
  readEnum<FsyncPolicy>(r, t, "fsync", {{"never", FsyncPolicy::kNever}, {"always", FsyncPolicy::kAlways}},
                        c.fsync);
  r.getBool(t, "collapsed_forwarding", c.collapsedForwarding);
  r.getBool(t, "serve_stale_on_error", c.serveStaleOnError);
  r.getDuration(t, "max_stale_on_error", c.maxStaleOnError);
  r.getSize(t, "range_fetch_whole_max", c.rangeFetchWholeMax);
  r.getSize(t, "fill_after_abort", c.fillAfterAbort);
  if (r.getSize(t, "slice_size", c.sliceSize) && c.sliceSize != 0 &&
      (c.sliceSize < (64ull << 10) || c.sliceSize > (64ull << 20))) {
    r.error(t.get("slice_size")->source(),
            "'slice_size' must be \"0\" (off) or between 64 KiB and 64 MiB");
  }
  r.getSize(t, "slice_above", c.sliceAbove);
  readCacheRules(r, t, c);
  if (c.enabled && c.dir.empty()) {
    r.error(t.source(), "the cache is enabled but 'dir' is not set; e.g. dir = \"/var/cache/portcullis\"");
  }
  if (c.maxObjectSize > c.maxSize) {
    // At the key the admin wrote, not at the [cache] header.
    const toml::node* at = t.contains("max_size") ? t.get("max_size") : t.get("max_object_size");
    r.warning(at != nullptr ? at->source() : t.source(),
              "'max_object_size' is larger than 'max_size'; no object that large can be kept");
  }
}

void readLog(TomlReader& r, const toml::table& t, LogConfig& l) {
  r.getString(t, "access", l.access);
  readEnum<LogFormat>(r, t, "access_format",
                      {{"json", LogFormat::kJson}, {"squid", LogFormat::kSquid}, {"combined", LogFormat::kCombined}},
                      l.accessFormat);
  r.getString(t, "events", l.events);
}

void readAdmin(TomlReader& r, const toml::table& t, AdminConfig& a) {
  if (r.getString(t, "listen", a.listen) && !a.listen.empty() && !a.listen.starts_with("unix:")) {
    std::string err;
    if (!parseListenAddress(a.listen, err)) r.error(t.get("listen")->source(), "'listen': " + err);
  }
  if (a.listen.starts_with("unix:") && a.listen.size() == 5) {
    r.error(t.get("listen")->source(), "'listen': \"unix:\" needs a path, e.g. \"unix:/run/portcullis/admin.sock\"");
  }
  std::vector<toml::source_region> where;
  if (r.getStringArray(t, "allow", a.allow, &where)) {
    for (size_t i = 0; i < a.allow.size(); ++i) {
      acl::CidrParse p = acl::parseCidr(a.allow[i]);
      if (!p.cidr) r.error(where[i], "'allow': " + p.error);
    }
  }
}

void readAbuse(TomlReader& r, const toml::table& t, AbuseConfig& a) {
  int64_t n = a.refusalsToBlock;
  if (r.getInteger(t, "refusals_to_block", 0, 1000000, n)) a.refusalsToBlock = static_cast<uint32_t>(n);
  r.getDuration(t, "refusal_window", a.refusalWindow);
  r.getDuration(t, "block_time", a.blockTime);
  r.getBool(t, "block_allowed_sources", a.blockAllowedSources);
}

bool getNumber(TomlReader& r, const toml::table& t, std::string_view key, double& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return false;
  if (n->is_integer()) {
    out = static_cast<double>(n->as_integer()->get());
  } else if (n->is_floating_point()) {
    out = n->as_floating_point()->get();
  } else {
    r.error(n->source(), "'" + std::string(key) + "' must be a number, not " + TomlReader::typeName(*n));
    return false;
  }
  if (out < 0) {
    r.error(n->source(), "'" + std::string(key) + "' must not be negative");
    return false;
  }
  return true;
}

/// [[limit]] tables; `from` must name a source set of `policy`.
void readLimits(TomlReader& r, const toml::table& root, const acl::Policy* policy,
                std::vector<RateLimitConfig>& out) {
  const toml::node* n = root.get("limit");
  if (n == nullptr) return;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    r.error(n->source(), "'limit' must be written as [[limit]] tables");
    return;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::table* t = (*arr)[i].as_table();
    if (t == nullptr) {
      r.error((*arr)[i].source(), "each [[limit]] must be a table");
      continue;
    }
    RateLimitConfig limit;
    limit.name = "limit#" + std::to_string(i + 1);
    r.getString(*t, "name", limit.name);
    auto from = readSourceSetRef(r, *t, "[[limit]]", "classrooms", policy);
    if (!from) continue;
    limit.from = from->name;
    limit.sourceIndex = from->index.value_or(0);
    getNumber(r, *t, "requests_per_second", limit.requestsPerSecond);
    limit.burst = limit.requestsPerSecond * 2;
    getNumber(r, *t, "burst", limit.burst);
    r.getSize(*t, "bandwidth", limit.bandwidth);
    if (limit.requestsPerSecond > 0 && limit.burst < 1) {
      r.error(t->get("burst")->source(), "'burst' must be at least 1 when requests_per_second is set");
    }
    out.push_back(std::move(limit));
  }
}

std::string readWholeFile(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open: " + std::string(std::strerror(errno));
    return {};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void sortByPosition(std::vector<Diagnostic>& d, const std::string& mainFile) {
  // Diagnostics of the main file in file order; list-file ones after them.
  std::stable_sort(d.begin(), d.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    bool am = a.file == mainFile, bm = b.file == mainFile;
    if (am != bm) return am;
    if (a.file != b.file) return a.file < b.file;
    if (a.line != b.line) return a.line < b.line;
    return a.column < b.column;
  });
}

/// Says where a wildcard listen widens what "the proxy itself" means.
void noteWildcardListens(TomlReader& r, const toml::table& root, const Config& cfg) {
  auto note = [&](const toml::node* at, const std::string& text, uint16_t port) {
    if (at == nullptr) return;
    const auto& where = at->source();
    r.add(Severity::kNote, r.file(), static_cast<int>(where.begin.line),
          static_cast<int>(where.begin.column),
          "'" + text + "' listens on every local address, so every local address with port " +
              (port == 0 ? std::string("the port the kernel chooses") : std::to_string(port)) +
              " (this host's interface addresses, 127.0.0.0/8, ::1, 0.0.0.0/8 and ::) counts "
              "as the proxy itself and is never a destination (hard:self)");
  };
  const toml::node* server = root.get("server");
  const toml::node* admin = root.get("admin");
  for (const ListenAddress& la : cfg.server.listen) {
    auto ip = acl::IpAddress::parse(la.host);
    if (ip && acl::SelfAddresses::isWildcard(*ip) && server && server->is_table()) {
      note(server->as_table()->get("listen"), la.text, la.port);
    }
  }
  for (const ListenAddress& la : cfg.server.listenTransparent) {
    auto ip = acl::IpAddress::parse(la.host);
    if (ip && acl::SelfAddresses::isWildcard(*ip) && server && server->is_table()) {
      note(server->as_table()->get("listen_transparent"), la.text, la.port);
    }
  }
  std::string err;
  if (auto la = parseListenAddress(cfg.admin.listen, err); la && admin && admin->is_table()) {
    auto ip = acl::IpAddress::parse(la->host);
    if (ip && acl::SelfAddresses::isWildcard(*ip))
      note(admin->as_table()->get("listen"), la->text, la->port);
  }
}

}  // namespace

std::optional<ListenAddress> parseListenAddress(std::string_view text, std::string& error) {
  // Port 0 asks the kernel for a free port (tests, benchmarks); the bound
  // address is reported in the "ready" event.
  auto hp =
      http::parseHostPort(text, {.portRequired = true, .portZeroAllowed = true, .ipOnly = true});
  if (!hp) {
    error = hp.error().message;
    return std::nullopt;
  }
  return ListenAddress{std::string(text), std::move(hp->host), hp->port};
}

LoadResult loadConfigText(std::string_view text, const std::string& name, const std::string& baseDir) {
  LoadResult result;
  TomlReader r(name, result.diagnostics);
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    r.error(e.source(), describeParseError(e.description(), text, e.source().begin.line));
    return result;
  }
  auto cfg = std::make_shared<Config>();
  cfg->path = name;
  cfg->server.listen.push_back(ListenAddress{"127.0.0.1:3128", "127.0.0.1", 3128});
  checkUnknownKeys(r, root);
  if (const toml::table* t = section(r, root, "server")) {
    readServer(r, *t, cfg->server);
    readErrorPages(r, *t, baseDir, cfg->server);
    readTls(r, *t, baseDir, cfg->server);
  }
  if (const toml::table* t = section(r, root, "dns")) readDns(r, *t, cfg->dns);
  if (const toml::table* t = section(r, root, "cache")) readCache(r, *t, cfg->cache);
  if (const toml::table* t = section(r, root, "log")) readLog(r, *t, cfg->log);
  if (const toml::table* t = section(r, root, "admin")) readAdmin(r, *t, cfg->admin);
  if (const toml::table* t = section(r, root, "abuse")) readAbuse(r, *t, cfg->abuse);
  auto policy = loadPolicy(r, root, baseDir);
  readLimits(r, root, policy.get(), cfg->limits);
  readPac(r, section(r, root, "pac"), policy.get(), *cfg);
  readSniRules(r, root, policy.get(), cfg->sni);
  readSafeSearch(r, root, policy.get(), baseDir, cfg->safeSearch);
  readAuth(r, root, baseDir, policy.get(), *cfg);
  readParents(r, root, baseDir, policy.get(), *cfg);
  noteWildcardListens(r, root, *cfg);
  if (policy) {
    policy->setSelfAddresses(selfAddressesFor(configuredEndpoints(*cfg)));
    cfg->policy = std::move(policy);
  }
  sortByPosition(result.diagnostics, name);
  if (!hasErrors(result.diagnostics)) result.config = std::move(cfg);
  return result;
}

LoadResult loadConfigFile(const std::string& path) {
  std::string err;
  std::string text = readWholeFile(path, err);
  if (!err.empty()) {
    LoadResult result;
    result.diagnostics.push_back(Diagnostic{Severity::kError, path, 0, 0, err});
    return result;
  }
  std::string dir = ".";
  if (size_t slash = path.rfind('/'); slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  return loadConfigText(text, path, dir);
}

}  // namespace portcullis::config
