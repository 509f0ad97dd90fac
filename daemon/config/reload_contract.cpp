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

struct RestartOnlyKey {
  std::string_view path;
  bool (*same)(const Config&, const Config&);
};

// Each entry says why it cannot change on a reload.
constexpr std::array kKeys{
    // Bound sockets and threads are created once.
    RestartOnlyKey{"server.listen", &sameListen},
    RestartOnlyKey{
        "server.workers",
        [](const Config& a, const Config& b) { return a.server.workers == b.server.workers; }},
    // Each worker's upstream pool is built once, with its idle timer.
    RestartOnlyKey{"server.upstream_idle_timeout",
                   [](const Config& a, const Config& b) {
                     return a.server.upstreamIdleTimeout == b.server.upstreamIdleTimeout;
                   }},
    // Privileges are dropped once, after binding; the pid file is locked then.
    RestartOnlyKey{"server.user",
                   [](const Config& a, const Config& b) { return a.server.user == b.server.user; }},
    RestartOnlyKey{
        "server.pid_file",
        [](const Config& a, const Config& b) { return a.server.pidFile == b.server.pidFile; }},
    // Each worker's resolver (and its answer cache) is built at start-up.
    RestartOnlyKey{
        "dns.nameservers",
        [](const Config& a, const Config& b) { return a.dns.nameservers == b.dns.nameservers; }},
    RestartOnlyKey{"dns.timeout",
                   [](const Config& a, const Config& b) { return a.dns.timeout == b.dns.timeout; }},
    RestartOnlyKey{"dns.min_ttl",
                   [](const Config& a, const Config& b) { return a.dns.minTtl == b.dns.minTtl; }},
    RestartOnlyKey{"dns.max_ttl",
                   [](const Config& a, const Config& b) { return a.dns.maxTtl == b.dns.maxTtl; }},
    RestartOnlyKey{
        "dns.negative_ttl",
        [](const Config& a, const Config& b) { return a.dns.negativeTtl == b.dns.negativeTtl; }},
    RestartOnlyKey{
        "dns.hosts_file",
        [](const Config& a, const Config& b) { return a.dns.useHostsFile == b.dns.useHostsFile; }},
    // The store (index, body files, RAM tier, eviction) is opened once.
    RestartOnlyKey{
        "cache.enabled",
        [](const Config& a, const Config& b) { return a.cache.enabled == b.cache.enabled; }},
    RestartOnlyKey{"cache.dir",
                   [](const Config& a, const Config& b) { return a.cache.dir == b.cache.dir; }},
    RestartOnlyKey{
        "cache.max_size",
        [](const Config& a, const Config& b) { return a.cache.maxSize == b.cache.maxSize; }},
    RestartOnlyKey{"cache.max_object_size",
                   [](const Config& a, const Config& b) {
                     return a.cache.maxObjectSize == b.cache.maxObjectSize;
                   }},
    RestartOnlyKey{
        "cache.memory_size",
        [](const Config& a, const Config& b) { return a.cache.memorySize == b.cache.memorySize; }},
    RestartOnlyKey{"cache.memory_max_object_size",
                   [](const Config& a, const Config& b) {
                     return a.cache.memoryMaxObjectSize == b.cache.memoryMaxObjectSize;
                   }},
    RestartOnlyKey{"cache.min_free_disk",
                   [](const Config& a, const Config& b) {
                     return a.cache.minFreeDisk == b.cache.minFreeDisk;
                   }},
    RestartOnlyKey{
        "cache.eviction",
        [](const Config& a, const Config& b) { return a.cache.eviction == b.cache.eviction; }},
    RestartOnlyKey{"cache.fsync",
                   [](const Config& a, const Config& b) { return a.cache.fsync == b.cache.fsync; }},
    // Log files are opened once (SIGUSR1 reopens the same paths); a format
    // switched mid-file would leave two formats in one file.
    RestartOnlyKey{"log.access",
                   [](const Config& a, const Config& b) { return a.log.access == b.log.access; }},
    RestartOnlyKey{
        "log.access_format",
        [](const Config& a, const Config& b) { return a.log.accessFormat == b.log.accessFormat; }},
    RestartOnlyKey{"log.events",
                   [](const Config& a, const Config& b) { return a.log.events == b.log.events; }},
    // The admin listener is bound once (its allow list does apply on reload).
    RestartOnlyKey{
        "admin.listen",
        [](const Config& a, const Config& b) { return a.admin.listen == b.admin.listen; }},
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
