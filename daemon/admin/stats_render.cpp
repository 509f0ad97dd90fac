// Formatting of a StatsSnapshot: Prometheus text, the /status JSON
// document, and the plain text of `portcullis status`.

#include <fmt/format.h>

#include "daemon/admin/stats.h"
#include "daemon/log/json_writer.h"
#include "portcullis_version.h"

namespace portcullis::admin {
namespace {

constexpr const char* kClassNames[kStatusClasses] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

std::string_view cacheName(size_t i) {
  return log::toString(static_cast<log::CacheResult>(i));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// Exposition format 0.0.4: label values escape backslash, quote, newline.
std::string labelValue(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

class PromWriter {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  void sample(double v, std::string_view labels = {}) {
    out_ += name_;
    if (!labels.empty()) fmt::format_to(std::back_inserter(out_), "{{{}}}", labels);
    fmt::format_to(std::back_inserter(out_), " {}\n", v);
  }
  void sample(uint64_t v, std::string_view labels = {}) {
    out_ += name_;
    if (!labels.empty()) fmt::format_to(std::back_inserter(out_), "{{{}}}", labels);
    fmt::format_to(std::back_inserter(out_), " {}\n", v);
  }
  void one(std::string_view name, std::string_view type, std::string_view help, uint64_t v) {
    family(name, type, help);
    sample(v);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::string name_;
};

double seconds(SystemTime t) {
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()) /
         1000.0;
}

void promConnections(PromWriter& w, const StatsSnapshot& s) {
  w.one("portcullis_connections_active", "gauge", "Client connections open now.",
        s.connectionsActive);
  w.one("portcullis_connections_total", "counter", "Client connections accepted.",
        s.connectionsTotal);
  w.family("portcullis_connections_refused_total", "counter",
           "Client connections refused before a request was read, by reason.");
  for (size_t i = 0; i < kRefuseReasons; ++i) {
    w.sample(s.refused[i], fmt::format("reason=\"{}\"", toString(static_cast<RefuseReason>(i))));
  }
  w.one("portcullis_connection_limit", "gauge", "Configured maximum of client connections.",
        s.connectionLimit);
}

void promRequests(PromWriter& w, const StatsSnapshot& s) {
  w.family("portcullis_requests_total", "counter",
           "Requests and tunnels finished, by status class (none = no response sent).");
  for (size_t i = 0; i < kStatusClasses; ++i) {
    w.sample(s.byClass[i], fmt::format("code_class=\"{}\"", kClassNames[i]));
  }
  w.family("portcullis_cache_results_total", "counter", "Requests by cache result.");
  for (size_t i = 0; i < kCacheResults; ++i) {
    w.sample(s.byCache[i], fmt::format("result=\"{}\"", lower(cacheName(i))));
  }
  w.one("portcullis_client_received_bytes_total", "counter", "Bytes received from clients.",
        s.bytesFromClients);
  w.one("portcullis_client_sent_bytes_total", "counter", "Bytes sent to clients.",
        s.bytesToClients);
  w.one("portcullis_upstream_received_bytes_total", "counter", "Bytes received from upstreams.",
        s.bytesFromUpstream);
  w.one("portcullis_cache_served_bytes_total", "counter",
        "Bytes sent to clients from the cache (HIT, REVALIDATED, STALE, COLLAPSED).",
        s.bytesFromCache);
  w.family("portcullis_cache_hit_ratio", "gauge",
           "Requests served from cache / requests through the cache, since start.");
  w.sample(s.hitRatio());
  w.family("portcullis_cache_byte_hit_ratio", "gauge",
           "Bytes served from cache / bytes sent for requests through the cache, since start.");
  w.sample(s.byteHitRatio());
  w.one("portcullis_cache_slice_fetches_total", "counter",
        "Slices of sliced objects fetched from origins (Range requests) and stored.",
        s.sliceFetches);
  w.one("portcullis_cache_slice_fetched_bytes_total", "counter",
        "Bytes of the slices fetched from origins.", s.sliceFetchedBytes);
  w.one("portcullis_cache_slice_hits_total", "counter",
        "Stored slices (or parts of them) sent to clients.", s.sliceHits);
  w.one("portcullis_cache_slice_hit_bytes_total", "counter",
        "Bytes sent to clients from stored slices.", s.sliceHitBytes);
  w.one("portcullis_upstream_errors_total", "counter",
        "Upstream connect, timeout and protocol errors.", s.upstreamErrors);
  w.one("portcullis_dns_failures_total", "counter", "Failed DNS resolutions.", s.dnsFailures);
  w.one("portcullis_background_fills", "gauge",
        "Cache fills running on after their client left (cache.fill_after_abort).",
        s.backgroundFills);
  w.family("portcullis_background_fills_total", "counter",
           "Cache fills that ran on after their client left, by outcome.");
  for (const auto& [outcome, n] : s.backgroundFillOutcomes) {
    w.sample(n, fmt::format("outcome=\"{}\"", labelValue(outcome)));
  }
  w.one("portcullis_dns_cache_entries", "gauge",
        "Names in the DNS answer caches (positive and negative), all workers.", s.dnsCacheEntries);
  w.family("portcullis_acl_denials_total", "counter", "Requests denied, by deciding rule.");
  for (const auto& [rule, n] : s.aclDenials) {
    w.sample(n, fmt::format("rule=\"{}\"", labelValue(rule)));
  }
  w.family("portcullis_exchanges_total", "counter",
           "Requests and tunnels by why they ended (the access log's termination).");
  for (const auto& [kind, n] : s.terminations) {
    w.sample(n, fmt::format("termination=\"{}\"", labelValue(kind)));
  }
}

void promDaemon(PromWriter& w, const StatsSnapshot& s) {
  w.one("portcullis_cache_size_bytes", "gauge", "Bytes of bodies in the cache store.",
        s.cacheBytes);
  w.one("portcullis_cache_objects", "gauge", "Objects in the cache store.", s.cacheObjects);
  w.one("portcullis_cache_memory_bytes", "gauge", "Bytes of small bodies also kept in RAM.",
        s.cacheMemoryBytes);
  w.one("portcullis_cache_memory_objects", "gauge", "Bodies also kept in RAM.",
        s.cacheMemoryObjects);
  w.one("portcullis_cache_max_size_bytes", "gauge", "The cache's max_size (0: cache off).",
        s.cacheMaxSize);
  w.one("portcullis_clients_blocked", "gauge", "Clients the abuse guard blocks at accept now.",
        static_cast<uint64_t>(s.blockedClients.size()));
  if (!s.parents.empty()) {
    w.family("portcullis_parent_requests_total", "counter",
             "Requests sent through each [[parent]] proxy.");
    for (const auto& p : s.parents) {
      w.sample(p.requests, fmt::format("parent=\"{}\"", labelValue(p.name)));
    }
    w.family("portcullis_parent_failures_total", "counter",
             "Failed connects to each [[parent]] proxy (requests and checks).");
    for (const auto& p : s.parents) {
      w.sample(p.failures, fmt::format("parent=\"{}\"", labelValue(p.name)));
    }
    w.family("portcullis_parent_up", "gauge", "1 while a [[parent]] proxy is taken to be up.");
    for (const auto& p : s.parents) {
      w.sample(uint64_t{p.up ? 1u : 0u}, fmt::format("parent=\"{}\"", labelValue(p.name)));
    }
  }
  w.family("portcullis_reloads_total", "counter", "Configuration reloads, by outcome.");
  w.sample(s.reloadsOk, "outcome=\"success\"");
  w.sample(s.reloadsFailed, "outcome=\"failure\"");
  w.one("portcullis_config_last_reload_successful", "gauge",
        "1 unless the most recent reload failed (the old config is still in force).",
        s.lastReloadOk == 0 ? 0 : 1);
  w.family("portcullis_worker_loop_lag_seconds", "gauge",
           "How late each worker loop ran its periodic timer, last measurement.");
  for (size_t i = 0; i < s.loopLagMs.size(); ++i) {
    w.sample(s.loopLagMs[i] / 1000.0, fmt::format("worker=\"{}\"", i));
  }
  w.family("portcullis_log_lines_total", "counter",
           "Log lines by log and outcome (dropped = queue full, failed = write error).");
  for (const auto& [name, c] : s.logs) {
    const std::string n = labelValue(name);
    w.sample(c.written, fmt::format("log=\"{}\",outcome=\"written\"", n));
    w.sample(c.dropped, fmt::format("log=\"{}\",outcome=\"dropped\"", n));
    w.sample(c.failed, fmt::format("log=\"{}\",outcome=\"failed\"", n));
  }
  w.family("portcullis_start_time_seconds", "gauge", "Start time of the daemon, Unix seconds.");
  w.sample(seconds(s.started));
  w.family("portcullis_build_info", "gauge", "Always 1; the version is in the label.");
  w.sample(uint64_t{1}, fmt::format("version=\"{}\"", labelValue(kVersion)));
}

}  // namespace

std::string renderPrometheus(const StatsSnapshot& s) {
  PromWriter w;
  promConnections(w, s);
  promRequests(w, s);
  promDaemon(w, s);
  return w.take();
}

namespace {

std::string connectionsJson(const StatsSnapshot& s) {
  log::JsonObject refused;
  for (size_t i = 0; i < kRefuseReasons; ++i) {
    refused.field(toString(static_cast<RefuseReason>(i)), s.refused[i]);
  }
  log::JsonObject conns;
  conns.field("active", s.connectionsActive)
      .field("total", s.connectionsTotal)
      .field("limit", s.connectionLimit)
      .raw("refused", refused.finish());
  return conns.finish();
}

std::string requestsJson(const StatsSnapshot& s) {
  log::JsonObject byClass;
  for (size_t i = 0; i < kStatusClasses; ++i) byClass.field(kClassNames[i], s.byClass[i]);
  log::JsonObject byCache;
  for (size_t i = 0; i < kCacheResults; ++i) byCache.field(cacheName(i), s.byCache[i]);
  log::JsonObject requests;
  requests.field("total", s.requests)
      .raw("by_class", byClass.finish())
      .raw("by_cache", byCache.finish());
  return requests.finish();
}

std::string cacheJson(const StatsSnapshot& s) {
  log::JsonObject cache;
  cache.field("size_bytes", s.cacheBytes).field("objects", s.cacheObjects);
  if (s.cacheMaxSize == 0)
    cache.null("max_size_bytes");
  else
    cache.field("max_size_bytes", s.cacheMaxSize);
  cache.field("memory_bytes", s.cacheMemoryBytes).field("memory_objects", s.cacheMemoryObjects);
  return cache.finish();
}

std::string topObjectsJson(const StatsSnapshot& s) {
  log::JsonArray top;
  for (const auto& o : s.topObjects) {
    log::JsonObject one;
    one.field("key", o.key)
        .field("size", o.size)
        .field("hits", o.hits)
        .field("bytes_saved", o.bytesSaved)
        .field("error", o.error);
    top.raw(one.finish());
  }
  return top.finish();
}

std::string reloadsJson(const StatsSnapshot& s) {
  log::JsonObject reloads;
  reloads.field("success", s.reloadsOk).field("failure", s.reloadsFailed);
  if (s.lastReloadOk < 0)
    reloads.null("last_ok");
  else
    reloads.field("last_ok", s.lastReloadOk == 1);
  reloads.optional("last_error", s.lastReloadError);
  if (s.lastReloadOk < 0)
    reloads.null("last_time");
  else
    reloads.field("last_time", log::formatTimestamp(s.lastReloadTime));
  log::JsonArray restartRequired;
  for (const auto& key : s.restartRequired) restartRequired.value(key);
  reloads.raw("restart_required", restartRequired.finish());
  return reloads.finish();
}

std::string logsJson(const StatsSnapshot& s) {
  log::JsonObject logs;
  for (const auto& [name, c] : s.logs) {
    log::JsonObject one;
    one.field("written", c.written).field("dropped", c.dropped).field("failed", c.failed);
    one.field("reopens", c.reopens).field("reopen_failures", c.reopenFailures);
    one.optional("last_error", c.lastError);
    logs.raw(name, one.finish());
  }
  return logs.finish();
}

/// "schedules": [{name, zone, open, next_change}], "expiring_rules": [{name, where, until}].
void timeRulesJson(const TimeRules& t, log::JsonObject& o) {
  log::JsonArray schedules;
  for (const auto& sc : t.schedules) {
    log::JsonObject one;
    one.field("name", sc.name).field("zone", sc.zone).field("open", sc.open);
    if (sc.nextChange == SystemTime::max()) {
      one.raw("next_change", "null");
    } else {
      one.field("next_change", log::formatTimestamp(sc.nextChange));
    }
    schedules.raw(one.finish());
  }
  log::JsonArray expiring;
  for (const auto& r : t.expiring) {
    log::JsonObject one;
    one.field("name", r.name).field("where", r.where).field("until", log::formatTimestamp(r.until));
    expiring.raw(one.finish());
  }
  o.raw("schedules", schedules.finish()).raw("expiring_rules", expiring.finish());
}

void statusFigures(const StatsSnapshot& s, log::JsonObject& o) {
  log::JsonObject bytes;
  bytes.field("from_clients", s.bytesFromClients)
      .field("to_clients", s.bytesToClients)
      .field("from_upstream", s.bytesFromUpstream)
      .field("served_from_cache", s.bytesFromCache);
  log::JsonObject denials;  // most frequent first
  for (const auto& [rule, n] : denialsByCount(s)) denials.field(rule, n);
  log::JsonObject users;
  for (const auto& [user, n] : s.requestsByUser) users.field(user, n);
  log::JsonObject userTotals;
  for (const auto& [user, t] : s.userTotals) {
    log::JsonObject one;
    one.field("requests", t.requests).field("bytes", t.bytes).field("denials", t.denials);
    userTotals.raw(user, one.finish());
  }
  log::JsonArray blocked;
  for (const auto& b : s.blockedClients) {
    log::JsonObject one;
    one.field("client", b.client).field("seconds_left", b.secondsLeft);
    blocked.raw(one.finish());
  }
  log::JsonArray lag;
  for (const double ms : s.loopLagMs) lag.value(ms);
  o.field("version", kVersion)
      .field("now", log::formatTimestamp(s.now))
      .field("started", log::formatTimestamp(s.started))
      .field("uptime_s", toUnixSeconds(s.now) - toUnixSeconds(s.started))
      .raw("connections", connectionsJson(s))
      .raw("requests", requestsJson(s))
      .raw("bytes", bytes.finish())
      .field("hit_ratio", s.hitRatio())
      .field("byte_hit_ratio", s.byteHitRatio())
      .field("upstream_errors", s.upstreamErrors)
      .field("dns_failures", s.dnsFailures)
      .field("background_fills", s.backgroundFills)
      .raw("acl_denials", denials.finish())
      .raw("users", users.finish())
      .raw("user_totals", userTotals.finish())
      .raw("cache", cacheJson(s))
      .raw("top_objects", topObjectsJson(s))
      .raw("reloads", reloadsJson(s))
      .raw("blocked_clients", blocked.finish())
      .raw("loop_lag_ms", lag.finish())
      .raw("logs", logsJson(s))
      .field("seq", s.lastSeq);
  timeRulesJson(s.timeRules, o);
}

std::string recordJson(uint64_t seq, const log::AccessRecord& r) {
  log::JsonObject o;
  o.field("seq", seq);
  log::appendAccessFields(o, r);
  return o.finish();
}

}  // namespace

std::string renderStatusJson(const StatsSnapshot& s,
                             const std::vector<std::pair<uint64_t, log::AccessRecord>>& recent,
                             const std::vector<HistoryPoint>& history) {
  log::JsonObject out;
  statusFigures(s, out);
  log::JsonArray rec;
  for (const auto& [seq, r] : recent) rec.raw(recordJson(seq, r));
  log::JsonArray hist;
  for (const auto& p : history) {
    log::JsonObject o;
    o.field("t", p.unixTime)
        .field("requests", p.requests)
        .field("hits", p.hits)
        .field("bytes_out", p.bytesOut)
        .field("bytes_saved", p.bytesFromCache);
    hist.raw(o.finish());
  }
  out.raw("recent", rec.finish()).raw("history", hist.finish());
  return out.finish();
}

}  // namespace portcullis::admin
