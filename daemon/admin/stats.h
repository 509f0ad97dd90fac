#pragma once
// Process-wide figures for /metrics, /status and `portcullis status`.
// Written by every worker thread (relaxed atomics: each figure is exact,
// a snapshot across figures is only nearly consistent, which is all a
// dashboard needs), read by the admin thread. Pure apart from its locks:
// times are parameters, so tests need no clock.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/admin/top_objects.h"
#include "daemon/base/clock.h"
#include "daemon/log/access_record.h"
#include "daemon/log/log_sink.h"

namespace portcullis::admin {

/// Why a connection was refused before any request was read.
/// kBlocked: the client is under an abuse-guard block ([abuse]).
enum class RefuseReason { kMaxConnections, kPerClient, kSourceDenied, kBlocked, kDraining, kOther };
inline constexpr size_t kRefuseReasons = 6;
std::string_view toString(RefuseReason reason);  ///< "max_connections", "per_client", ...

inline constexpr size_t kCacheResults = 8;       ///< log::CacheResult values
inline constexpr size_t kStatusClasses = 6;      ///< none(0), 1xx .. 5xx
inline constexpr size_t kMaxWorkers = 256;       ///< loop-lag gauges kept
inline constexpr size_t kMaxDenialRules = 1024;  ///< distinct rule names counted
inline constexpr size_t kMaxUsers = 10000;       ///< distinct users counted (then "other")

/// One logged-in user's totals ([auth]): the name only, never credentials.
struct UserTotals {
  uint64_t requests = 0;
  uint64_t bytes = 0;    ///< sent to the client
  uint64_t denials = 0;  ///< requests refused (a rule, a limit) after the login
};

/// One minute of the chart on the status page.
struct HistoryPoint {
  int64_t unixTime = 0;         ///< end of the minute
  uint64_t requests = 0;        ///< requests that went through the cache layer
  uint64_t hits = 0;            ///< of those, served from cache (see log::servedFromCache)
  uint64_t bytesOut = 0;        ///< bytes to clients for those requests
  uint64_t bytesFromCache = 0;  ///< of those bytes, served from cache (= saved upstream)
};

/// A client the abuse guard blocks at accept, and for how much longer.
struct BlockedClient {
  std::string client;       ///< IP address
  int64_t secondsLeft = 0;  ///< rounded up
};

/// One [[parent]] proxy's figures (proxy::ParentHealth).
struct ParentFigures {
  std::string name;
  bool up = true;
  uint64_t requests = 0;  ///< requests sent through it
  uint64_t failures = 0;  ///< failed connects (requests and checks)
};

/// The rules' time conditions at one moment ([schedules], `until`), for the
/// status page: each schedule's state and next change, and the rules whose
/// `until` falls within the next 24 hours.
struct TimeRules {
  struct ScheduleState {
    std::string name;
    std::string zone;
    bool open = false;
    SystemTime nextChange{};  ///< SystemTime::max(): never
  };
  struct ExpiringRule {
    std::string name;
    std::string where;  ///< "file:line"
    SystemTime until{};
  };
  std::vector<ScheduleState> schedules;
  std::vector<ExpiringRule> expiring;  ///< soonest first
};

/// Every figure at one moment; what the renderers format.
struct StatsSnapshot {
  SystemTime now;
  SystemTime started;
  uint64_t connectionsActive = 0;
  uint64_t connectionsTotal = 0;
  uint64_t connectionLimit = 0;
  std::array<uint64_t, kRefuseReasons> refused{};
  std::array<uint64_t, kStatusClasses> byClass{};
  std::array<uint64_t, kCacheResults> byCache{};
  uint64_t requests = 0;
  uint64_t bytesFromClients = 0;
  uint64_t bytesToClients = 0;
  uint64_t bytesFromUpstream = 0;
  uint64_t cacheableRequests = 0;  ///< cache result other than NONE
  uint64_t cacheHits = 0;
  uint64_t cacheableBytesOut = 0;
  uint64_t bytesFromCache = 0;
  uint64_t upstreamErrors = 0;
  uint64_t sliceFetches = 0;  ///< slices fetched from origins (sliced storage)
  uint64_t sliceFetchedBytes = 0;
  uint64_t sliceHits = 0;  ///< slices (or parts) sent to clients from the cache
  uint64_t sliceHitBytes = 0;
  uint64_t dnsFailures = 0;
  uint64_t dnsCacheEntries = 0;  ///< names in the DNS answer caches, all workers
  std::map<std::string, uint64_t> aclDenials;
  std::map<std::string, uint64_t> terminations;  ///< exchanges by why they ended
  uint64_t backgroundFills = 0;                  ///< fills running without their client (gauge)
  std::map<std::string, uint64_t> backgroundFillOutcomes;  ///< ended fills by outcome
  std::vector<TopObject> topObjects;  ///< stored objects by bytes saved, most first
  /// Requests by logged-in user ([auth]); names only, never credentials.
  std::map<std::string, uint64_t> requestsByUser;
  std::map<std::string, UserTotals> userTotals;  ///< the same users, with bytes and denials
  uint64_t cacheBytes = 0;
  uint64_t cacheObjects = 0;
  uint64_t cacheMemoryBytes = 0;  ///< small bodies also held in RAM
  uint64_t cacheMemoryObjects = 0;
  uint64_t cacheMaxSize = 0;  ///< [cache] max_size; 0 when the cache is off
  uint64_t reloadsOk = 0;
  uint64_t reloadsFailed = 0;
  int lastReloadOk = -1;        ///< -1 none yet, 0 failed, 1 succeeded
  std::string lastReloadError;  ///< the failed reload's diagnostics; "" unless lastReloadOk == 0
  SystemTime lastReloadTime{};  ///< when the last reload finished; epoch when none yet
  /// Restart-only keys the config in force changed since start-up (from the
  /// last successful reload: a failed one changes nothing), schema order.
  std::vector<std::string> restartRequired;
  std::vector<BlockedClient> blockedClients;  ///< by the abuse guard, soonest unblocked first
  std::vector<ParentFigures> parents;         ///< the config's [[parent]] entries, by name
  TimeRules timeRules;                        ///< [schedules] states, rules expiring soon
  std::vector<double> loopLagMs;              ///< per worker
  std::vector<std::pair<std::string, log::SinkCounters>> logs;
  uint64_t lastSeq = 0;

  double hitRatio() const;      ///< cacheHits / cacheableRequests, 0 when none
  double byteHitRatio() const;  ///< bytesFromCache / cacheableBytesOut, 0 when none
};

class Stats {
 public:
  explicit Stats(SystemTime started, size_t recentCapacity = 200, size_t historyMinutes = 60);
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  // --- Recording: any thread, noexcept, no I/O. ---
  void connectionOpened() noexcept;
  void connectionClosed() noexcept;
  void connectionRefused(RefuseReason reason) noexcept;
  /// One finished request or tunnel: counters by status class and cache
  /// result, bytes, and a copy in the recent ring (given the next sequence
  /// number). It does not count ACL denials: call aclDenied() for those.
  void recordRequest(const log::AccessRecord& record) noexcept;
  /// One ACL denial by `rule` (at accept or per request), counted once.
  void aclDenied(std::string_view rule) noexcept;
  void upstreamError() noexcept;
  void dnsFailure() noexcept;
  /// A cache fill goes on without its client (cache.fill_after_abort).
  void backgroundFillStarted() noexcept;
  /// It ended: its upstream bytes count, its termination is the outcome.
  void backgroundFillEnded(const log::AccessRecord& record) noexcept;
  /// It was deleted without ending (the worker went away).
  void backgroundFillAbandoned() noexcept;
  /// A stored object (cache `key`, body `size`) was served: `bytes` of its
  /// body went out from the cache (the status page's top objects).
  void cacheObjectServed(std::string_view key, uint64_t size, uint64_t bytes) noexcept;
  /// Sliced storage: one slice of `bytes` fetched from an origin and stored.
  void sliceFetched(uint64_t bytes) noexcept;
  /// Sliced storage: `bytes` of one stored slice sent to a client.
  void sliceServed(uint64_t bytes) noexcept;
  /// `diagnostics`: the config errors that made a reload fail, one per line.
  /// `restartRequired`: after a successful reload, the restart-only keys
  /// whose new value waits for a restart (a failed reload keeps the last).
  void reloadFinished(bool ok, std::string_view diagnostics = {},
                      std::vector<std::string> restartRequired = {},
                      SystemTime when = std::chrono::system_clock::now()) noexcept;
  /// The restart-only keys and their values as the daemon runs them
  /// (config::restartOnlyValues of the start-up config), for
  /// `portcullis validate --against-running`.
  void setRestartOnlyValues(std::vector<std::pair<std::string, std::string>> values);
  std::vector<std::pair<std::string, std::string>> restartOnlyValues() const;
  void setConnectionLimit(uint64_t limit) noexcept;
  /// The cache's [cache] max_size, shown beside its use; 0 = cache off.
  void setCacheLimit(uint64_t maxSize) noexcept;
  /// Where snapshot() asks for the clients blocked at accept (the abuse
  /// guard). Called on the reading thread, without this object's lock.
  void setBlockedClientsSource(std::function<std::vector<BlockedClient>()> source);
  /// Where the [[parent]] figures come from (proxy::parentFiguresSource).
  void setParentsSource(std::function<std::vector<ParentFigures>()> source);
  /// Where snapshot() asks for the schedules' states and the rules expiring
  /// soon, at its `now` (the daemon reads them from the policy in force).
  void setTimeRulesSource(std::function<TimeRules(SystemTime now)> source);
  void setCacheUsage(uint64_t bytes, uint64_t objects, uint64_t memoryBytes = 0,
                     uint64_t memoryObjects = 0) noexcept;
  /// Number of worker loops whose lag is shown (<= kMaxWorkers).
  void setWorkerCount(size_t workers) noexcept;
  /// Latest measured lag of worker `worker`'s loop (timer lateness), in ms.
  void reportLoopLag(size_t worker, double ms) noexcept;
  /// Names now in worker `worker`'s DNS answer cache.
  void reportDnsCacheEntries(size_t worker, uint64_t entries) noexcept;
  /// Log sinks whose counters are reported; they must outlive this object.
  void setLogSinks(std::vector<std::pair<std::string, const log::LogSink*>> sinks);

  /// Closes the chart's current minute: appends the change since the last
  /// call to the history ring. The admin thread calls it once a minute.
  void sampleHistory(SystemTime now);

  // --- Reading: any thread. ---
  StatsSnapshot snapshot(SystemTime now) const;
  std::vector<HistoryPoint> history() const;
  /// Recent records with seq > sinceSeq, oldest first (at most the ring).
  /// `lastSeq`, when given, receives the newest sequence number assigned so
  /// far, read under the same lock (what a follower asks `since` next).
  std::vector<std::pair<uint64_t, log::AccessRecord>> recent(uint64_t sinceSeq,
                                                             uint64_t* lastSeq = nullptr) const;

  /// SIGTERM arrived: /healthz answers 503 "draining" from now on, so a
  /// balancer's health check takes the node out before it stops accepting.
  void setDraining() noexcept { draining_.store(true, std::memory_order_relaxed); }
  bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> draining_{false};
  const SystemTime started_;
  const size_t recentCapacity_;
  const size_t historyMinutes_;

  std::atomic<uint64_t> active_{0}, total_{0}, limit_{0};
  std::array<std::atomic<uint64_t>, kRefuseReasons> refused_{};
  std::array<std::atomic<uint64_t>, kStatusClasses> byClass_{};
  std::array<std::atomic<uint64_t>, kCacheResults> byCache_{};
  std::atomic<uint64_t> bytesIn_{0}, bytesOut_{0}, upstreamBytes_{0};
  std::atomic<uint64_t> cacheableBytesOut_{0}, bytesFromCache_{0};
  std::atomic<uint64_t> upstreamErrors_{0}, dnsFailures_{0};
  std::atomic<uint64_t> backgroundFills_{0};
  TopObjects topObjects_;                                      // its own lock
  std::map<std::string, uint64_t, std::less<>> fillOutcomes_;  // guarded by mu_ (5 kinds)
  std::atomic<uint64_t> sliceFetches_{0}, sliceFetchedBytes_{0}, sliceHits_{0}, sliceHitBytes_{0};
  std::atomic<uint64_t> cacheBytes_{0}, cacheObjects_{0};
  std::atomic<uint64_t> cacheMemoryBytes_{0}, cacheMemoryObjects_{0}, cacheMaxSize_{0};
  std::atomic<uint64_t> reloadsOk_{0}, reloadsFailed_{0};
  std::atomic<int> lastReloadOk_{-1};
  std::atomic<size_t> workers_{0};
  std::array<std::atomic<double>, kMaxWorkers> loopLagMs_{};
  std::array<std::atomic<uint64_t>, kMaxWorkers> dnsCacheEntries_{};

  mutable std::mutex mu_;
  std::map<std::string, uint64_t, std::less<>> denials_;            // guarded by mu_
  std::map<std::string, uint64_t, std::less<>> terminations_;       // guarded by mu_ (~22 kinds)
  std::map<std::string, UserTotals, std::less<>> users_;  // guarded by mu_; bounded (kMaxUsers)
  std::deque<std::pair<uint64_t, log::AccessRecord>> recent_;       // guarded by mu_
  uint64_t seq_ = 0;                                                // guarded by mu_
  std::deque<HistoryPoint> history_;                                // guarded by mu_
  HistoryPoint lastSample_;                                         // guarded by mu_
  std::vector<std::pair<std::string, const log::LogSink*>> sinks_;  // guarded by mu_
  std::string lastReloadError_;                                     // guarded by mu_
  SystemTime lastReloadTime_{};                                     // guarded by mu_
  std::vector<std::string> restartRequired_;                        // guarded by mu_
  std::vector<std::pair<std::string, std::string>> restartOnly_;    // guarded by mu_
  std::function<std::vector<BlockedClient>()> blockedSource_;       // guarded by mu_
  std::function<std::vector<ParentFigures>()> parentsSource_;       // guarded by mu_
  std::function<TimeRules(SystemTime)> timeRulesSource_;            // guarded by mu_

  void countDenial(std::string_view rule);  // needs mu_
};

/// Prometheus text exposition format 0.0.4: every family has # HELP and
/// # TYPE; label values escaped (\\ \" \n).
std::string renderPrometheus(const StatsSnapshot& s);

/// The /status document (see README: figures, "recent", "history").
std::string renderStatusJson(const StatsSnapshot& s,
                             const std::vector<std::pair<uint64_t, log::AccessRecord>>& recent,
                             const std::vector<HistoryPoint>& history);

/// The denial counts, most frequent first (ties by name).
std::vector<std::pair<std::string, uint64_t>> denialsByCount(const StatsSnapshot& s);

/// `/status?format=restart-only`: one line per restart-only key, the key,
/// a space and its value as a JSON string (`server.listen "127.0.0.1:3128"`).
std::string renderRestartOnly(const std::vector<std::pair<std::string, std::string>>& values);

/// The figures as aligned plain text for `portcullis status`.
std::string renderStatusText(const StatsSnapshot& s);

/// One terminal line per recent record (for `status --follow`), with the
/// deciding rule of a denial; control bytes are shown as \xHH so a URL
/// cannot drive the terminal.
std::string renderRecentLines(const std::vector<std::pair<uint64_t, log::AccessRecord>>& recent,
                              bool json);

}  // namespace portcullis::admin
