#include "daemon/config/reload_contract.h"

#include <array>

#include "daemon/config/config.h"

namespace portcullis::config {

namespace {

bool sameListen(const Config& a, const Config& b) {
  if (a.server.listen.size() != b.server.listen.size()) return false;
  for (size_t i = 0; i < a.server.listen.size(); ++i) {
    if (a.server.listen[i].text != b.server.listen[i].text) return false;
  }
  return true;
}

/// The field `Field` of the section `Section` is the same in both configs.
template <auto Section, auto Field>
bool same(const Config& a, const Config& b) {
  return (a.*Section).*Field == (b.*Section).*Field;
}

struct RestartOnlyKey {
  std::string_view path;
  bool (*same)(const Config&, const Config&);
};

// Each entry says why it cannot change on a reload.
constexpr std::array kKeys{
    // Bound sockets and threads are created once.
    RestartOnlyKey{"server.listen", &sameListen},
    RestartOnlyKey{"server.workers", &same<&Config::server, &ServerConfig::workers>},
    // Each worker's upstream pool is built once, with its idle timer.
    RestartOnlyKey{"server.upstream_idle_timeout",
                   &same<&Config::server, &ServerConfig::upstreamIdleTimeout>},
    // Privileges are dropped once, after binding; the pid file is locked then.
    RestartOnlyKey{"server.user", &same<&Config::server, &ServerConfig::user>},
    RestartOnlyKey{"server.pid_file", &same<&Config::server, &ServerConfig::pidFile>},
    // Each worker's resolver (and its answer cache) is built at start-up.
    RestartOnlyKey{"dns.nameservers", &same<&Config::dns, &DnsConfig::nameservers>},
    RestartOnlyKey{"dns.timeout", &same<&Config::dns, &DnsConfig::timeout>},
    RestartOnlyKey{"dns.min_ttl", &same<&Config::dns, &DnsConfig::minTtl>},
    RestartOnlyKey{"dns.max_ttl", &same<&Config::dns, &DnsConfig::maxTtl>},
    RestartOnlyKey{"dns.negative_ttl", &same<&Config::dns, &DnsConfig::negativeTtl>},
    RestartOnlyKey{"dns.hosts_file", &same<&Config::dns, &DnsConfig::useHostsFile>},
    // The store (index, body files, RAM tier, eviction) is opened once.
    RestartOnlyKey{"cache.enabled", &same<&Config::cache, &CacheConfig::enabled>},
    RestartOnlyKey{"cache.dir", &same<&Config::cache, &CacheConfig::dir>},
    RestartOnlyKey{"cache.max_size", &same<&Config::cache, &CacheConfig::maxSize>},
    RestartOnlyKey{"cache.max_object_size", &same<&Config::cache, &CacheConfig::maxObjectSize>},
    RestartOnlyKey{"cache.memory_size", &same<&Config::cache, &CacheConfig::memorySize>},
    RestartOnlyKey{"cache.memory_max_object_size",
                   &same<&Config::cache, &CacheConfig::memoryMaxObjectSize>},
    RestartOnlyKey{"cache.min_free_disk", &same<&Config::cache, &CacheConfig::minFreeDisk>},
    RestartOnlyKey{"cache.eviction", &same<&Config::cache, &CacheConfig::eviction>},
    RestartOnlyKey{"cache.fsync", &same<&Config::cache, &CacheConfig::fsync>},
    // Log files are opened once (SIGUSR1 reopens the same paths); a format
    // switched mid-file would leave two formats in one file.
    RestartOnlyKey{"log.access", &same<&Config::log, &LogConfig::access>},
    RestartOnlyKey{"log.access_format", &same<&Config::log, &LogConfig::accessFormat>},
    RestartOnlyKey{"log.events", &same<&Config::log, &LogConfig::events>},
    // The admin listener is bound once (its allow list does apply on reload).
    RestartOnlyKey{"admin.listen", &same<&Config::admin, &AdminConfig::listen>},
};

}  // namespace

bool isRestartOnly(std::string_view path) {
  for (const auto& k : kKeys) {
    if (k.path == path) return true;
  }
  return false;
}

std::vector<std::string_view> restartOnlyKeys() {
  std::vector<std::string_view> out;
  for (const auto& k : kKeys) out.push_back(k.path);
  return out;
}

std::vector<std::string> restartOnlyChanges(const Config& running, const Config& reloaded) {
  std::vector<std::string> changed;
  for (const auto& k : kKeys) {
    if (!k.same(running, reloaded)) changed.emplace_back(k.path);
  }
  return changed;
}

}  // namespace portcullis::config
