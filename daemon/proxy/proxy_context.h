#pragma once
// What the request path needs from its worker and the process, injected:
// the daemon's Worker fills it from itself and its Server; tests fill it with
// a fake resolver and clock and run an exchange in-process.

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string_view>

#include "daemon/base/clock.h"
#include "daemon/base/result.h"
#include "daemon/net/host_resolver.h"

namespace portcullis::cache {
class Cache;
}
namespace portcullis::config {
struct Config;
}
namespace portcullis::admin {
class Stats;
}
namespace portcullis::auth {
class VerifierPool;
}

namespace portcullis::proxy {

class ClientConnection;
class UpstreamPool;
class CollapsedForwarding;
class ConnectionLimiter;
class AbuseGuard;
class BackgroundFills;
class RequestRateLimiter;
class CredentialCache;
class LoginFailures;
class VerifyMailbox;
class ParentHealth;
class ParentTlsContexts;
struct ProxyHooks;

/// Sees every phase change of every part of an exchange (tests; null in the daemon).
class PhaseObserver {
 public:
  virtual ~PhaseObserver() = default;
  /// `part` e.g. "connection", "exchange", "upstream", "cache", "waiter"; `phase` the enum name
  /// without k.
  virtual void onPhase(std::string_view part, std::string_view from, std::string_view to) = 0;
};

/// Everything a client connection and its exchanges need from the worker and the process,
/// injected so an exchange runs in-process in tests with a fake resolver and clock. One per
/// worker; outlives its connections.
/// Used on the worker's loop thread only (the shared objects it points to are thread-safe).
struct ProxyContext {
  event_base* base = nullptr;
  net::HostResolver* resolver = nullptr;
  const Clock* clock = nullptr;
  UpstreamPool* pool = nullptr;
  cache::Cache* cache = nullptr;  ///< null: caching off
  CollapsedForwarding* collapsed = nullptr;
  admin::Stats* stats = nullptr;
  ConnectionLimiter* limiter = nullptr;
  AbuseGuard* abuseGuard = nullptr;
  RequestRateLimiter* rateLimiter = nullptr;
  const ProxyHooks* hooks = nullptr;
  /// The worker's fills that outlive their client (cache.fill_after_abort); null: none.
  BackgroundFills* fills = nullptr;
  /// Proxy authentication ([auth]); all null when the worker has none (tests).
  /// Password checks go to `verifier` through this loop's `mailbox`.
  auth::VerifierPool* verifier = nullptr;
  VerifyMailbox* mailbox = nullptr;
  CredentialCache* credentials = nullptr;
  LoginFailures* loginFailures = nullptr;
  /// A hash checked for unknown users, so that they take as long as known ones.
  const std::string* decoyHash = nullptr;
  /// Whether each [[parent]] is up, shared by the workers; null: every parent counts as up.
  ParentHealth* parents = nullptr;
  /// The TLS parents' client contexts; null: TLS parents cannot be reached (tests).
  ParentTlsContexts* parentTls = nullptr;
  /// The live config snapshot for a new request.
  std::function<std::shared_ptr<const config::Config>()> config;
  /// Reports a cache store attempt (Server::noteCacheStorage).
  std::function<void(const Error* failure)> noteCacheStorage;
  /// The connection is finished: delete it after the current callback (Worker::retire).
  std::function<void(ClientConnection*)> retire;
  std::function<bool()> shuttingDown;
  PhaseObserver* observer = nullptr;
};

}  // namespace portcullis::proxy
