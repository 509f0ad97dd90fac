#pragma once
// The proxy: listening sockets, worker threads, the live config and the
// things every worker shares (connection limits, logs, counters).

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "cache/policy/stored_response.h"
#include "daemon/admin/stats.h"
#include "daemon/auth/verifier_pool.h"
#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"
#include "daemon/config/config.h"
#include "daemon/log/access_record.h"
#include "daemon/net/socket_address.h"
#include "daemon/net/tls_context.h"
#include "daemon/proxy/abuse_guard.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/connection_limiter.h"
#include "daemon/proxy/parent_health.h"
#include "daemon/proxy/parent_tls.h"
#include "daemon/proxy/proxy_auth.h"

namespace portcullis::proxy {

class Worker;

/// What a listening socket takes: proxy clients ([server] listen), the same
/// over TLS (listen_tls), or connections the kernel redirected
/// (listen_transparent).
enum class ListenKind : uint8_t { kPlain, kTls, kTransparent };

/// One listening socket of one worker.
struct ListenSocket {
  UniqueFd fd;
  ListenKind kind = ListenKind::kPlain;
};

/// Where finished transactions and daemon events go. Set before start().
struct ProxyHooks {
  std::function<void(const log::AccessRecord&)> access;
  /// A per-client event for the event log ("client_blocked", "client_unblocked",
  /// "limit_hit" with the limit's name as `detail`).
  std::function<void(std::string_view event, const std::string& client, std::string_view detail)>
      clientEvent;
  /// The cache's storage changed state: "cache_store_failing" (with the
  /// error) or "cache_store_recovered". Reported once per change.
  std::function<void(std::string_view event, std::string_view detail)> cacheEvent;
  /// A TLS parent's handshake failed ("parent_tls_failed", "NAME: reason"):
  /// the parent counts as down. Any worker thread.
  std::function<void(std::string_view event, std::string_view detail)> parentEvent;
};

class Server {
 public:
  /// `stats` must outlive the server; every worker reports into it.
  Server(std::shared_ptr<const config::Config> config, admin::Stats& stats, ProxyHooks hooks);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds every listen address once per worker (SO_REUSEPORT). Call before
  /// dropping privileges. A port 0 is resolved on the first bind and reused.
  Result<void> bind();
  /// Addresses actually bound (ports resolved), one per configured address.
  const std::vector<net::SocketAddress>& boundAddresses() const { return bound_; }
  /// The [server] listen_transparent addresses actually bound.
  const std::vector<net::SocketAddress>& boundTransparent() const { return boundTransparent_; }
  /// Set by bind() when a transparent socket could not be made IP_TRANSPARENT
  /// (no CAP_NET_ADMIN): redirect still works, tproxy does not. Empty = fine.
  const std::string& tproxyWarning() const { return tproxyWarning_; }
  /// The same for [server] listen_tls.
  const std::vector<net::SocketAddress>& boundTlsAddresses() const { return boundTls_; }

  /// The certificate pair new TLS handshakes use; set before start() when
  /// listen_tls is configured, swapped by a reload. Any thread.
  void setTlsContext(std::shared_ptr<const net::TlsServerContext> tls) {
    tls_.store(std::move(tls));
  }
  std::shared_ptr<const net::TlsServerContext> tlsContext() const { return tls_.load(); }

  /// Starts the worker threads; returns at once.
  void start();
  /// Swaps the config for new transactions (in-flight ones keep theirs)
  /// and pushes it to every worker (Worker::applySettings). Any thread.
  void reload(std::shared_ptr<const config::Config> config);
  /// Stops accepting; in-flight requests get `grace` to finish. Returns at once.
  void beginShutdown();
  /// Waits for every worker to finish.
  void join();

  std::shared_ptr<const config::Config> config() const { return config_.load(); }
  ConnectionLimiter& limiter() { return limiter_; }
  admin::Stats& stats() { return stats_; }
  /// The shared disk cache; null when [cache] is off. Set before start().
  void setCache(cache::Cache* cache) { cache_ = cache; }
  cache::Cache* cache() const { return cache_; }
  CollapsedForwarding& collapsed() { return collapsed_; }
  /// Records whether storing into the cache worked; emits cacheEvent on a
  /// change. Thread-safe. After each store attempt: nullptr when it worked, else its error. Only
  /// storage errors (Error::Kind::kStorage) flip the failing/recovered state.
  void noteCacheStorage(const Error* failure);
  AbuseGuard& abuseGuard() { return abuseGuard_; }
  RequestRateLimiter& rateLimiter() { return rateLimiter_; }
  /// Proxy authentication: the password checkers ([auth] verifier_threads,
  /// started with the server), the verified-login cache, failed logins.
  auth::VerifierPool& verifier() { return *verifier_; }
  CredentialCache& credentials() { return credentials_; }
  LoginFailures& loginFailures() { return loginFailures_; }
  const std::string& decoyHash() const { return decoyHash_; }
  const ProxyHooks& hooks() const { return hooks_; }
  /// Whether each [[parent]] is up, and its counters (every worker).
  ParentHealth& parents() { return parents_; }
  /// The client TLS contexts of the TLS parents, built at start-up and on reload.
  ParentTlsContexts& parentTls() { return parentTls_; }
  /// The TLS parents whose CA did not load at the last start-up or reload ("" = none).
  const std::string& parentTlsErrors() const { return parentTlsErrors_; }

 private:
  Result<void> bindOne(const config::ListenAddress& listen, ListenKind kind, unsigned workers);

  std::atomic<std::shared_ptr<const config::Config>> config_;
  ProxyHooks hooks_;
  ConnectionLimiter limiter_;
  admin::Stats& stats_;
  cache::Cache* cache_ = nullptr;
  std::atomic<bool> cacheStoreFailing_{false};
  CollapsedForwarding collapsed_;
  AbuseGuard abuseGuard_;
  RequestRateLimiter rateLimiter_;
  CredentialCache credentials_;
  LoginFailures loginFailures_;
  std::string decoyHash_;
  ParentHealth parents_;
  ParentTlsContexts parentTls_;
  std::string parentTlsErrors_;
  std::unique_ptr<auth::VerifierPool> verifier_;  // before workers_: they go first
  std::vector<net::SocketAddress> bound_;
  std::vector<net::SocketAddress> boundTls_;
  std::atomic<std::shared_ptr<const net::TlsServerContext>> tls_;
  std::vector<net::SocketAddress> boundTransparent_;
  std::string tproxyWarning_;
  std::vector<std::vector<ListenSocket>> listenFds_;  // [worker][address]
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace portcullis::proxy
