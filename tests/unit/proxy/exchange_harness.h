#pragma once
// An exchange run in-process: one event loop holds the proxy's connection,
// an origin (exchange_origin.h) and the client's socket (exchange_client.h);
// names resolve through a FakeResolver and time comes from a FakeClock.
// Everything else is real: the config (parsed from TOML by the real
// loader), Stats, ConnectionLimiter, AbuseGuard, RequestRateLimiter,
// UpstreamPool, CollapsedForwarding and, optionally, a Cache in a
// temporary directory. No socket reaches outside the process: the origin
// listens on 127.0.0.1 and the client talks through a socketpair.
//
// Names the fake resolver knows (every other name fails as NXDOMAIN):
//   origin.test      -> 127.0.0.1 (the origin's port: url())
//   blocked.test     -> 127.0.0.1 (denied by name, rule "no-blocked")
//   meta.named.test  -> 169.254.169.254 (allowed by name, special address)

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache.h"
#include "daemon/admin/stats.h"
#include "daemon/config/config.h"
#include "daemon/log/access_record.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/abuse_guard.h"
#include "daemon/proxy/background_fill.h"
#include "daemon/proxy/client_connection.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/connection_limiter.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/upstream_pool.h"
#include "daemon/proxy/verify_mailbox.h"
#include "tests/unit/proxy/exchange_client.h"
#include "tests/unit/proxy/exchange_origin.h"
#include "tests/unit/proxy/fake_clock.h"
#include "tests/unit/proxy/fake_resolver.h"

namespace portcullis::testing {

/// The connection type under test (one place to follow a rename).
using Connection = proxy::ClientConnection;

/// Runs `base` until `done()` holds or `within` (real time) has passed;
/// true when done. The loop blocks in epoll between events: no sleeping,
/// no spinning (a timer bounds each turn so the deadline is kept).
bool runLoopUntil(event_base* base, const std::function<bool()>& done,
                  std::chrono::milliseconds within = std::chrono::seconds(5));

/// A phase change seen by the observer.
struct PhaseChange {
  std::string part;
  std::string from;
  std::string to;
};

/// Records every phase change of every part, in order.
class PhaseRecorder final : public proxy::PhaseObserver {
 public:
  void onPhase(std::string_view part, std::string_view from, std::string_view to) override;

  const std::vector<PhaseChange>& changes() const { return changes_; }
  /// True when `part` entered `phase` (or started in it) at some point.
  bool reached(std::string_view part, std::string_view phase) const;
  /// The phases `part` entered, in order (its first `from` first).
  std::vector<std::string> path(std::string_view part) const;
  /// Every (part, phase) reached, as "part:Phase".
  std::set<std::string> reachedSet() const;
  void clear() { changes_.clear(); }

 private:
  std::vector<PhaseChange> changes_;
};

struct HarnessOptions {
  /// Extra lines of the [server] table, e.g. "header_timeout = \"200ms\"".
  std::string server;
  /// Turns the cache on, in a temporary directory; extra [cache] lines.
  bool cache = false;
  std::string cacheLines;
  /// How often the cache writes its index (CacheOptions::flushInterval).
  std::chrono::milliseconds cacheFlushInterval{5};
  /// Appended at the end of the config (e.g. a [[limit]] table).
  std::string extra;
  /// The "local" source set may send credentials on the plain port ([auth]).
  bool plaintextAuth = false;
};

class ExchangeHarness {
 public:
  explicit ExchangeHarness(HarnessOptions options = {});
  ~ExchangeHarness();
  ExchangeHarness(const ExchangeHarness&) = delete;
  ExchangeHarness& operator=(const ExchangeHarness&) = delete;

  event_base* base() { return base_.get(); }
  FakeResolver& resolver() { return *resolver_; }
  FakeClock& clock() { return clock_; }
  OriginServer& origin() { return *origin_; }
  PhaseRecorder& phases() { return phases_; }
  admin::Stats& stats() { return *stats_; }
  cache::Cache* cache() { return cache_.get(); }
  proxy::UpstreamPool& pool() { return *pool_; }
  const config::Config& config() const { return *config_; }
  /// The fills that run on after their client left (the worker's registry).
  proxy::BackgroundFills& fills() { return *fills_; }
  /// Swaps the live config (as a reload does) for TOML extra lines of [cache].
  void reloadCacheLines(const std::string& cacheLines);
  /// The TOML the config was loaded from (for a failing test's message).
  const std::string& configText() const { return configText_; }

  /// "http://origin.test:PORT" + path.
  std::string url(std::string_view path) const;
  /// "GET <url(path)> HTTP/1.1" with Host and the given extra field lines.
  std::string get(std::string_view path, std::string_view fields = {}) const;
  uint16_t refusingPort() const { return refusing_.port(); }
  uint16_t blackholePort() const { return blackhole_.port(); }

  /// A new client connection: a ClientConnection on one end of a socketpair,
  /// started, as the worker starts an accepted one; `transparent` as the
  /// worker passes it for a connection accepted on a transparent listener.
  TestClient& connect(std::optional<proxy::TransparentDestination> transparent = std::nullopt);

  /// Runs the loop until `done()` or `within` passes (real time).
  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds within = std::chrono::seconds(5)) {
    return runLoopUntil(base_.get(), done, within);
  }
  /// Runs until `n` access records were written.
  bool runUntilRecords(size_t n, std::chrono::milliseconds within = std::chrono::seconds(5)) {
    return runUntil([&] { return records_.size() >= n; }, within);
  }

  /// Deletes every connection now, as the worker does when the shutdown grace
  /// expires: each closes (and logs) what it was doing.
  void closeConnections();
  /// Every connection judges its open tunnel or streaming response again
  /// under `config` at the fake clock's time, as the worker's PolicyWatch does.
  void recheckPolicy(const config::Config& config);

  /// Every access record written so far (ProxyHooks::access).
  const std::vector<log::AccessRecord>& records() const { return records_; }
  /// The last access record of `client`'s connection, if any.
  std::optional<log::AccessRecord> lastRecordOf(const TestClient& client) const;
  /// How many access records `client`'s connection has written.
  size_t recordsOf(const TestClient& client) const;
  /// Runs until `client`'s connection wrote `n` records.
  bool runUntilRecordsOf(const TestClient& client, size_t n,
                         std::chrono::milliseconds within = std::chrono::seconds(5)) {
    return runUntil([&] { return recordsOf(client) >= n; }, within);
  }
  /// Client events (ProxyHooks::clientEvent) as "event client detail".
  const std::vector<std::string>& clientEvents() const { return clientEvents_; }
  /// Connections alive (not yet retired and reaped).
  size_t liveConnections() const { return connections_.size() + retired_.size(); }

 private:
  static void onReap(evutil_socket_t, short, void* arg) noexcept;
  std::string buildConfig(const HarnessOptions& options) const;
  void openCache(std::chrono::milliseconds flushInterval);

  // Declared in dependency order: destroyed in reverse, connections first,
  // the loop last.
  net::EventBasePtr base_;
  FakeClock clock_;
  std::unique_ptr<FakeResolver> resolver_;
  std::unique_ptr<OriginServer> origin_;
  RefusingPort refusing_;
  BlackholePort blackhole_;
  HarnessOptions options_;
  std::string configText_;
  std::shared_ptr<const config::Config> config_;
  std::string cacheDir_;
  std::unique_ptr<cache::Cache> cache_;
  std::unique_ptr<admin::Stats> stats_;
  proxy::ConnectionLimiter limiter_;
  proxy::AbuseGuard abuseGuard_;
  proxy::RequestRateLimiter rateLimiter_;
  proxy::CollapsedForwarding collapsed_;
  std::unique_ptr<proxy::UpstreamPool> pool_;
  proxy::ProxyHooks hooks_;
  PhaseRecorder phases_;
  proxy::ProxyContext context_;
  // Proxy authentication, as the worker wires it: one verifier thread.
  std::unique_ptr<auth::VerifierPool> verifier_;
  std::shared_ptr<proxy::VerifyMailbox> mailbox_;
  proxy::CredentialCache credentials_;
  proxy::LoginFailures loginFailures_;
  std::string decoyHash_;
  /// After the context it uses, before the connections that hand fills to it.
  std::unique_ptr<proxy::BackgroundFills> fills_;
  std::vector<log::AccessRecord> records_;
  std::vector<std::string> clientEvents_;
  std::vector<std::string> cacheFailures_;
  bool shuttingDown_ = false;
  net::EventPtr reap_;
  std::vector<std::unique_ptr<TestClient>> clients_;
  std::map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> retired_;
};

}  // namespace portcullis::testing
