#include "daemon/config/reload_contract.h"

#include <array>

#include "daemon/config/config.h"

namespace portcullis::config {

namespace {

// One line of text per value type the restart-only keys use.
std::string text(const std::string& v) {
  return v;
}
std::string text(bool v) {
  return v ? "true" : "false";
}
std::string text(unsigned v) {
  return std::to_string(v);
}
std::string text(uint64_t v) {
  return std::to_string(v);
}
std::string text(const std::vector<ListenAddress>& v) {
  std::string out;
  for (const auto& a : v) out += (out.empty() ? "" : ", ") + a.text;
  return out;
}
std::string text(EvictionPolicy v) {
  return v == EvictionPolicy::kLru ? "lru" : "s3fifo";
}
std::string text(FsyncPolicy v) {
  return v == FsyncPolicy::kAlways ? "always" : "never";
}
std::string text(LogFormat v) {
  switch (v) {
    case LogFormat::kSquid:
      return "squid";
    case LogFormat::kCombined:
      return "combined";
    case LogFormat::kJson:
      break;
  }
  return "json";
}

/// The field `Field` of the section `Section`, as text.
template <auto Section, auto Field>
std::string value(const Config& c) {
  return text((c.*Section).*Field);
}

/// Copies the field `Field` of the section `Section` from `from` into `to`.
template <auto Section, auto Field>
void keep(Config& to, const Config& from) {
  (to.*Section).*Field = (from.*Section).*Field;
}

struct RestartOnlyKey {
  std::string_view path;
  std::string (*value)(const Config&);
  void (*keep)(Config&, const Config&);
};

// Each entry says why it cannot change on a reload. Everything else is read
// per request from the request's snapshot, or pushed to every worker on
// reload ([dns], server.upstream_idle_timeout: Worker::applySettings), or
// set by the reload itself (admin.allow, server.max_connections' gauge).
constexpr std::array kKeys{
    // Bound sockets and threads are created once.
    RestartOnlyKey{"server.listen", &value<&Config::server, &ServerConfig::listen>,
                   &keep<&Config::server, &ServerConfig::listen>},
    RestartOnlyKey{"server.listen_transparent",
                   &value<&Config::server, &ServerConfig::listenTransparent>,
                   &keep<&Config::server, &ServerConfig::listenTransparent>},
    RestartOnlyKey{"server.listen_tls", &value<&Config::server, &ServerConfig::listenTls>,
                   &keep<&Config::server, &ServerConfig::listenTls>},
    RestartOnlyKey{"server.workers", &value<&Config::server, &ServerConfig::workers>,
                   &keep<&Config::server, &ServerConfig::workers>},
    // The verifier threads are started once.
    RestartOnlyKey{"auth.verifier_threads", &value<&Config::auth, &AuthConfig::verifierThreads>,
                   &keep<&Config::auth, &AuthConfig::verifierThreads>},
    // Privileges are dropped once, after binding; the pid file is locked then.
    RestartOnlyKey{"server.user", &value<&Config::server, &ServerConfig::user>,
                   &keep<&Config::server, &ServerConfig::user>},
    RestartOnlyKey{"server.pid_file", &value<&Config::server, &ServerConfig::pidFile>,
                   &keep<&Config::server, &ServerConfig::pidFile>},
    // The store (index, body files, RAM tier, eviction) is opened once.
    RestartOnlyKey{"cache.enabled", &value<&Config::cache, &CacheConfig::enabled>,
                   &keep<&Config::cache, &CacheConfig::enabled>},
    RestartOnlyKey{"cache.dir", &value<&Config::cache, &CacheConfig::dir>,
                   &keep<&Config::cache, &CacheConfig::dir>},
    RestartOnlyKey{"cache.max_size", &value<&Config::cache, &CacheConfig::maxSize>,
                   &keep<&Config::cache, &CacheConfig::maxSize>},
    RestartOnlyKey{"cache.max_object_size", &value<&Config::cache, &CacheConfig::maxObjectSize>,
                   &keep<&Config::cache, &CacheConfig::maxObjectSize>},
    RestartOnlyKey{"cache.memory_size", &value<&Config::cache, &CacheConfig::memorySize>,
                   &keep<&Config::cache, &CacheConfig::memorySize>},
    RestartOnlyKey{"cache.memory_max_object_size",
                   &value<&Config::cache, &CacheConfig::memoryMaxObjectSize>,
                   &keep<&Config::cache, &CacheConfig::memoryMaxObjectSize>},
    RestartOnlyKey{"cache.min_free_disk", &value<&Config::cache, &CacheConfig::minFreeDisk>,
                   &keep<&Config::cache, &CacheConfig::minFreeDisk>},
    RestartOnlyKey{"cache.eviction", &value<&Config::cache, &CacheConfig::eviction>,
                   &keep<&Config::cache, &CacheConfig::eviction>},
    RestartOnlyKey{"cache.fsync", &value<&Config::cache, &CacheConfig::fsync>,
                   &keep<&Config::cache, &CacheConfig::fsync>},
    // Log files are opened once (SIGUSR1 reopens the same paths); a format
    // switched mid-file would leave two formats in one file.
    RestartOnlyKey{"log.access", &value<&Config::log, &LogConfig::access>,
                   &keep<&Config::log, &LogConfig::access>},
    RestartOnlyKey{"log.access_format", &value<&Config::log, &LogConfig::accessFormat>,
                   &keep<&Config::log, &LogConfig::accessFormat>},
    RestartOnlyKey{"log.events", &value<&Config::log, &LogConfig::events>,
                   &keep<&Config::log, &LogConfig::events>},
    // The admin listener is bound once (its allow list does apply on reload).
    RestartOnlyKey{"admin.listen", &value<&Config::admin, &AdminConfig::listen>,
                   &keep<&Config::admin, &AdminConfig::listen>},
    // The PAC listener is bound once, as root (port 80 for WPAD); the file
    // it serves and its clients follow the reload.
    RestartOnlyKey{"pac.listen", &value<&Config::pac, &PacConfig::listen>,
                   &keep<&Config::pac, &PacConfig::listen>},
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

std::vector<KeyValue> restartOnlyValues(const Config& config) {
  std::vector<KeyValue> out;
  for (const auto& k : kKeys) out.emplace_back(std::string(k.path), k.value(config));
  return out;
}

std::vector<std::string> restartOnlyChanges(const std::vector<KeyValue>& running,
                                            const std::vector<KeyValue>& reloaded) {
  std::vector<std::string> changed;
  for (const auto& [key, was] : running) {
    bool same = false;
    for (const auto& [otherKey, now] : reloaded) {
      if (otherKey == key) same = was == now;
    }
    if (!same) changed.push_back(key);
  }
  return changed;
}

std::vector<std::string> restartOnlyChanges(const Config& running, const Config& reloaded) {
  return restartOnlyChanges(restartOnlyValues(running), restartOnlyValues(reloaded));
}

Config keepRestartOnly(const Config& reloaded, const Config& running) {
  Config out = reloaded;
  for (const auto& k : kKeys) k.keep(out, running);
  return out;
}

}  // namespace portcullis::config
