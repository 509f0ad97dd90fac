#include "daemon/admin/stats.h"

#include <algorithm>

namespace portcullis::admin {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
// The status page and /status list this many top objects (of the 256 tracked).
constexpr size_t kTopObjectsShown = 20;

size_t statusClass(int status) {
  return status >= 100 && status <= 599 ? static_cast<size_t>(status / 100) : 0;
}

}  // namespace

std::string_view toString(RefuseReason reason) {
  switch (reason) {
    case RefuseReason::kMaxConnections:
      return "max_connections";
    case RefuseReason::kPerClient:
      return "per_client";
    case RefuseReason::kSourceDenied:
      return "source_denied";
    case RefuseReason::kBlocked:
      return "blocked";
    case RefuseReason::kDraining:
      return "draining";
    case RefuseReason::kOther:
      return "other";
  }
  return "other";
}

double StatsSnapshot::hitRatio() const {
  return cacheableRequests == 0
             ? 0.0
             : static_cast<double>(cacheHits) / static_cast<double>(cacheableRequests);
}

double StatsSnapshot::byteHitRatio() const {
  return cacheableBytesOut == 0
             ? 0.0
             : static_cast<double>(bytesFromCache) / static_cast<double>(cacheableBytesOut);
}

Stats::Stats(SystemTime started, size_t recentCapacity, size_t historyMinutes)
    : started_(started), recentCapacity_(recentCapacity), historyMinutes_(historyMinutes) {}

void Stats::connectionOpened() noexcept {
  active_.fetch_add(1, kRelaxed);
  total_.fetch_add(1, kRelaxed);
}

void Stats::connectionClosed() noexcept {
  // Never wrap below zero if a caller closes something it did not open.
  uint64_t cur = active_.load(kRelaxed);
  while (cur > 0 && !active_.compare_exchange_weak(cur, cur - 1, kRelaxed)) {
  }
}

void Stats::sliceFetched(uint64_t bytes) noexcept {
  sliceFetches_.fetch_add(1, kRelaxed);
  sliceFetchedBytes_.fetch_add(bytes, kRelaxed);
}

void Stats::sliceServed(uint64_t bytes) noexcept {
  sliceHits_.fetch_add(1, kRelaxed);
  sliceHitBytes_.fetch_add(bytes, kRelaxed);
}

void Stats::connectionRefused(RefuseReason reason) noexcept {
  refused_[static_cast<size_t>(reason)].fetch_add(1, kRelaxed);
}

void Stats::recordRequest(const log::AccessRecord& r) noexcept {
  byClass_[statusClass(r.status)].fetch_add(1, kRelaxed);
  byCache_[static_cast<size_t>(r.cache)].fetch_add(1, kRelaxed);
  bytesIn_.fetch_add(r.bytesIn, kRelaxed);
  bytesOut_.fetch_add(r.bytesOut, kRelaxed);
  upstreamBytes_.fetch_add(r.upstreamBytes, kRelaxed);
  if (r.cache != log::CacheResult::kNone) {
    cacheableBytesOut_.fetch_add(r.bytesOut, kRelaxed);
    if (log::servedFromCache(r.cache)) bytesFromCache_.fetch_add(r.bytesOut, kRelaxed);
    // A partly sliced response: what did not come from the origin came from the cache.
    if (r.cache == log::CacheResult::kPartial && r.bytesOut > r.upstreamBytes) {
      bytesFromCache_.fetch_add(r.bytesOut - r.upstreamBytes, kRelaxed);
    }
  }
  try {
    // Copy outside the lock; only the ring push happens under it.
    std::pair<uint64_t, log::AccessRecord> entry{0, r};
    std::lock_guard lock(mu_);
    entry.first = ++seq_;
    if (!r.termination.empty()) {
      auto it = terminations_.find(r.termination);
      if (it == terminations_.end())
        it = terminations_.emplace(std::string(r.termination), 0).first;
      ++it->second;
    }
    if (!r.user.empty()) {
      auto it = users_.find(r.user);
      if (it == users_.end()) {
        it = users_.emplace(users_.size() < kMaxUsers ? r.user : std::string("other"), UserTotals{})
                 .first;
      }
      ++it->second.requests;
      it->second.bytes += r.bytesOut;
      if (r.decision == log::AccessDecision::kDeny) ++it->second.denials;
    }
    recent_.push_back(std::move(entry));
    while (recent_.size() > recentCapacity_) recent_.pop_front();
  } catch (...) {  // out of memory: the counters above are still right
  }
}

void Stats::countDenial(std::string_view rule) {
  const std::string_view key = rule.empty() ? std::string_view("unnamed") : rule;
  auto it = denials_.find(key);
  if (it == denials_.end()) {
    // Rule names come from the config, but stay bounded regardless.
    if (denials_.size() >= kMaxDenialRules) {
      ++denials_["other"];
      return;
    }
    it = denials_.emplace(std::string(key), 0).first;
  }
  ++it->second;
}

void Stats::aclDenied(std::string_view rule) noexcept {
  try {
    std::lock_guard lock(mu_);
    countDenial(rule);
  } catch (...) {
  }
}

void Stats::upstreamError() noexcept {
  upstreamErrors_.fetch_add(1, kRelaxed);
}
void Stats::dnsFailure() noexcept {
  dnsFailures_.fetch_add(1, kRelaxed);
}

void Stats::backgroundFillStarted() noexcept {
  backgroundFills_.fetch_add(1, kRelaxed);
}

void Stats::backgroundFillAbandoned() noexcept {
  backgroundFills_.fetch_sub(1, kRelaxed);
}

void Stats::cacheObjectServed(std::string_view key, uint64_t size, uint64_t bytes) noexcept {
  try {
    topObjects_.add(key, size, bytes);
  } catch (...) {
    // Best effort, like the other counters.
  }
}

void Stats::backgroundFillEnded(const log::AccessRecord& r) noexcept {
  backgroundFills_.fetch_sub(1, kRelaxed);
  upstreamBytes_.fetch_add(r.upstreamBytes, kRelaxed);
  try {
    std::lock_guard lock(mu_);
    auto it = fillOutcomes_.find(r.termination);
    if (it == fillOutcomes_.end()) it = fillOutcomes_.emplace(std::string(r.termination), 0).first;
    ++it->second;
  } catch (...) {
    // Counting is best effort; never let it take the data path down.
  }
}

void Stats::reloadFinished(bool ok, std::string_view diagnostics,
                           std::vector<std::string> restartRequired, SystemTime when) noexcept {
  try {
    std::lock_guard lock(mu_);
    lastReloadError_ = ok ? std::string() : std::string(diagnostics);
    lastReloadTime_ = when;
    if (ok) restartRequired_ = std::move(restartRequired);
  } catch (...) {  // out of memory: the counters below are still right
  }
  // Counted last: whoever sees the count move (`portcullis reload` polls
  // it) also sees the outcome above.
  lastReloadOk_.store(ok ? 1 : 0, kRelaxed);
  (ok ? reloadsOk_ : reloadsFailed_).fetch_add(1, std::memory_order_release);
}

void Stats::setRestartOnlyValues(std::vector<std::pair<std::string, std::string>> values) {
  std::lock_guard lock(mu_);
  restartOnly_ = std::move(values);
}

std::vector<std::pair<std::string, std::string>> Stats::restartOnlyValues() const {
  std::lock_guard lock(mu_);
  return restartOnly_;
}

void Stats::setCacheLimit(uint64_t maxSize) noexcept {
  cacheMaxSize_.store(maxSize, kRelaxed);
}

void Stats::setParentsSource(std::function<std::vector<ParentFigures>()> source) {
  std::lock_guard lock(mu_);
  parentsSource_ = std::move(source);
}

void Stats::setTimeRulesSource(std::function<TimeRules(SystemTime)> source) {
  std::lock_guard lock(mu_);
  timeRulesSource_ = std::move(source);
}

void Stats::setBlockedClientsSource(std::function<std::vector<BlockedClient>()> source) {
  std::lock_guard lock(mu_);
  blockedSource_ = std::move(source);
}

void Stats::setConnectionLimit(uint64_t limit) noexcept {
  limit_.store(limit, kRelaxed);
}

void Stats::setCacheUsage(uint64_t bytes, uint64_t objects, uint64_t memoryBytes,
                          uint64_t memoryObjects) noexcept {
  cacheBytes_.store(bytes, kRelaxed);
  cacheObjects_.store(objects, kRelaxed);
  cacheMemoryBytes_.store(memoryBytes, kRelaxed);
  cacheMemoryObjects_.store(memoryObjects, kRelaxed);
}

void Stats::setWorkerCount(size_t workers) noexcept {
  workers_.store(std::min(workers, kMaxWorkers), kRelaxed);
}

void Stats::reportDnsCacheEntries(size_t worker, uint64_t entries) noexcept {
  if (worker < kMaxWorkers) dnsCacheEntries_[worker].store(entries, kRelaxed);
}

void Stats::reportLoopLag(size_t worker, double ms) noexcept {
  if (worker < kMaxWorkers) loopLagMs_[worker].store(ms, kRelaxed);
}

void Stats::setLogSinks(std::vector<std::pair<std::string, const log::LogSink*>> sinks) {
  std::lock_guard lock(mu_);
  sinks_ = std::move(sinks);
}

void Stats::sampleHistory(SystemTime now) {
  HistoryPoint cur;
  cur.unixTime = toUnixSeconds(now);
  for (size_t i = 0; i < kCacheResults; ++i) {
    const auto result = static_cast<log::CacheResult>(i);
    if (result == log::CacheResult::kNone) continue;
    const uint64_t n = byCache_[i].load(kRelaxed);
    cur.requests += n;
    if (log::servedFromCache(result)) cur.hits += n;
  }
  cur.bytesOut = cacheableBytesOut_.load(kRelaxed);
  cur.bytesFromCache = bytesFromCache_.load(kRelaxed);
  std::lock_guard lock(mu_);
  HistoryPoint delta{cur.unixTime, cur.requests - lastSample_.requests, cur.hits - lastSample_.hits,
                     cur.bytesOut - lastSample_.bytesOut,
                     cur.bytesFromCache - lastSample_.bytesFromCache};
  lastSample_ = cur;
  history_.push_back(delta);
  while (history_.size() > historyMinutes_) history_.pop_front();
}

StatsSnapshot Stats::snapshot(SystemTime now) const {
  StatsSnapshot s;
  s.now = now;
  s.started = started_;
  s.connectionsActive = active_.load(kRelaxed);
  s.connectionsTotal = total_.load(kRelaxed);
  s.connectionLimit = limit_.load(kRelaxed);
  for (size_t i = 0; i < kRefuseReasons; ++i) s.refused[i] = refused_[i].load(kRelaxed);
  for (size_t i = 0; i < kStatusClasses; ++i) {
    s.byClass[i] = byClass_[i].load(kRelaxed);
    s.requests += s.byClass[i];
  }
  for (size_t i = 0; i < kCacheResults; ++i) {
    s.byCache[i] = byCache_[i].load(kRelaxed);
    const auto result = static_cast<log::CacheResult>(i);
    if (result == log::CacheResult::kNone) continue;
    s.cacheableRequests += s.byCache[i];
    if (log::servedFromCache(result)) s.cacheHits += s.byCache[i];
  }
  s.bytesFromClients = bytesIn_.load(kRelaxed);
  s.bytesToClients = bytesOut_.load(kRelaxed);
  s.bytesFromUpstream = upstreamBytes_.load(kRelaxed);
  s.cacheableBytesOut = cacheableBytesOut_.load(kRelaxed);
  s.bytesFromCache = bytesFromCache_.load(kRelaxed);
  s.upstreamErrors = upstreamErrors_.load(kRelaxed);
  s.sliceFetches = sliceFetches_.load(kRelaxed);
  s.sliceFetchedBytes = sliceFetchedBytes_.load(kRelaxed);
  s.sliceHits = sliceHits_.load(kRelaxed);
  s.sliceHitBytes = sliceHitBytes_.load(kRelaxed);
  s.dnsFailures = dnsFailures_.load(kRelaxed);
  s.backgroundFills = backgroundFills_.load(kRelaxed);
  s.topObjects = topObjects_.top(kTopObjectsShown);
  s.cacheBytes = cacheBytes_.load(kRelaxed);
  s.cacheObjects = cacheObjects_.load(kRelaxed);
  s.cacheMemoryBytes = cacheMemoryBytes_.load(kRelaxed);
  s.cacheMemoryObjects = cacheMemoryObjects_.load(kRelaxed);
  s.cacheMaxSize = cacheMaxSize_.load(kRelaxed);
  s.reloadsOk = reloadsOk_.load(kRelaxed);
  s.reloadsFailed = reloadsFailed_.load(kRelaxed);
  s.lastReloadOk = lastReloadOk_.load(kRelaxed);
  const size_t workers = workers_.load(kRelaxed);
  for (size_t i = 0; i < workers; ++i) s.loopLagMs.push_back(loopLagMs_[i].load(kRelaxed));
  for (const auto& n : dnsCacheEntries_) s.dnsCacheEntries += n.load(kRelaxed);
  std::function<std::vector<BlockedClient>()> blocked;
  std::function<std::vector<ParentFigures>()> parents;
  std::function<TimeRules(SystemTime)> timeRules;
  {
    std::lock_guard lock(mu_);
    s.aclDenials.insert(denials_.begin(), denials_.end());
    s.terminations.insert(terminations_.begin(), terminations_.end());
    s.backgroundFillOutcomes.insert(fillOutcomes_.begin(), fillOutcomes_.end());
    for (const auto& [user, totals] : users_) {
      s.requestsByUser.emplace(user, totals.requests);
      s.userTotals.emplace(user, totals);
    }
    for (const auto& [name, sink] : sinks_) s.logs.emplace_back(name, sink->counters());
    s.lastSeq = seq_;
    if (s.lastReloadOk == 0) s.lastReloadError = lastReloadError_;
    s.lastReloadTime = lastReloadTime_;
    s.restartRequired = restartRequired_;
    blocked = blockedSource_;
    parents = parentsSource_;
    timeRules = timeRulesSource_;
  }
  if (blocked) s.blockedClients = blocked();
  if (parents) s.parents = parents();
  if (timeRules) s.timeRules = timeRules(now);
  return s;
}

std::vector<HistoryPoint> Stats::history() const {
  std::lock_guard lock(mu_);
  return {history_.begin(), history_.end()};
}

std::vector<std::pair<uint64_t, log::AccessRecord>> Stats::recent(uint64_t sinceSeq,
                                                                  uint64_t* lastSeq) const {
  std::lock_guard lock(mu_);
  if (lastSeq != nullptr) *lastSeq = seq_;
  std::vector<std::pair<uint64_t, log::AccessRecord>> out;
  for (const auto& e : recent_) {
    if (e.first > sinceSeq) out.push_back(e);
  }
  return out;
}

std::vector<std::pair<std::string, uint64_t>> denialsByCount(const StatsSnapshot& s) {
  std::vector<std::pair<std::string, uint64_t>> out(s.aclDenials.begin(), s.aclDenials.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

}  // namespace portcullis::admin
