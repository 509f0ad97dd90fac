// Plain-text views of the figures for `portcullis status` and `--follow`.

#include <fmt/format.h>

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/log/json_writer.h"
#include "portcullis_version.h"

namespace portcullis::admin {
namespace {

std::string humanBytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string humanDuration(int64_t s) {
  if (s < 0) s = 0;
  if (s >= 86400) return fmt::format("{}d {}h {}m", s / 86400, s % 86400 / 3600, s % 3600 / 60);
  if (s >= 3600) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}m {}s", s / 60, s % 60);
}

// A URL or user name from the network must not drive the terminal: C0, DEL
// and every non-ASCII byte (C1 controls such as 0x9b CSI) are shown as \xHH.
std::string terminalSafe(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F || c == '\\')
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    else
      out.push_back(ch);
  }
  return out;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    out.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return out;
}

}  // namespace

std::string renderRestartOnly(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  for (const auto& [key, value] : values) {
    out += key;
    out += ' ';
    log::appendQuoted(out, value);
    out += '\n';
  }
  return out;
}

namespace {

void appendLine(std::string& out, std::string_view label, const std::string& text) {
  fmt::format_to(std::back_inserter(out), "{:<14}{}\n", label, text);
}

std::string connectionsText(const StatsSnapshot& s) {
  std::string refused;
  uint64_t refusedTotal = 0;
  for (size_t i = 0; i < kRefuseReasons; ++i) {
    refusedTotal += s.refused[i];
    if (s.refused[i] != 0) {
      refused += fmt::format(" {} {}", toString(static_cast<RefuseReason>(i)), s.refused[i]);
    }
  }
  return fmt::format("{} active (limit {}), {} total, {} refused{}", s.connectionsActive,
                     s.connectionLimit, s.connectionsTotal, refusedTotal,
                     refused.empty() ? "" : ":" + refused);
}

std::string cacheStoreText(const StatsSnapshot& s) {
  if (s.cacheMaxSize == 0) {
    return fmt::format("{} in {} objects", humanBytes(s.cacheBytes), s.cacheObjects);
  }
  return fmt::format(
      "{} of {} ({:.1f}%) in {} objects", humanBytes(s.cacheBytes), humanBytes(s.cacheMaxSize),
      100.0 * static_cast<double>(s.cacheBytes) / static_cast<double>(s.cacheMaxSize),
      s.cacheObjects);
}

/// The reloads line, the last failure's diagnostics and the restart-only keys.
void appendReloadLines(std::string& out, const StatsSnapshot& s) {
  appendLine(out, "reloads",
             fmt::format("{} ok, {} failed{}{}", s.reloadsOk, s.reloadsFailed,
                         s.lastReloadOk < 0 ? std::string()
                                            : ", last at " + log::formatTimestamp(s.lastReloadTime),
                         s.lastReloadOk == 0 ? " (last one FAILED: old config in force)" : ""));
  for (const std::string& diag : splitLines(s.lastReloadError)) {
    appendLine(out, "", terminalSafe(diag));
  }
  if (!s.restartRequired.empty()) {
    std::string keys;
    for (const auto& key : s.restartRequired) keys += (keys.empty() ? "" : ", ") + key;
    appendLine(out, "restart",
               "needed for " + terminalSafe(keys) +
                   " (changed in the config; a reload keeps the running value)");
  }
}

}  // namespace

std::string renderStatusText(const StatsSnapshot& s) {
  constexpr const char* kClassNames[kStatusClasses] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
  std::string out;
  auto line = [&out](std::string_view label, const std::string& text) {
    appendLine(out, label, text);
  };
  line("portcullis", fmt::format("{}, up {}", kVersion,
                                 humanDuration(toUnixSeconds(s.now) - toUnixSeconds(s.started))));
  line("connections", connectionsText(s));
  std::string classes;
  for (size_t i = 1; i < kStatusClasses; ++i)
    classes += fmt::format(" {} {}", kClassNames[i], s.byClass[i]);
  line("requests", fmt::format("{} total:{} none {}", s.requests, classes, s.byClass[0]));
  std::string results;
  for (size_t i = 0; i < kCacheResults; ++i) {
    results += fmt::format(" {} {}", log::toString(static_cast<log::CacheResult>(i)), s.byCache[i]);
  }
  line("cache results", results.substr(1));
  line("hit ratio", fmt::format("{:.1f}% of requests, {:.1f}% of bytes", 100 * s.hitRatio(),
                                100 * s.byteHitRatio()));
  line("bytes", fmt::format("to clients {}, from clients {}, from upstream {}, from cache {}",
                            humanBytes(s.bytesToClients), humanBytes(s.bytesFromClients),
                            humanBytes(s.bytesFromUpstream), humanBytes(s.bytesFromCache)));
  line("errors", fmt::format("upstream {}, dns {}", s.upstreamErrors, s.dnsFailures));
  std::string denials;
  for (const auto& [rule, n] : denialsByCount(s))
    denials += fmt::format(", {} {}", terminalSafe(rule), n);
  line("acl denials", denials.empty() ? "none" : denials.substr(2));
  std::string users;
  for (const auto& [user, t] : s.userTotals) {
    users += fmt::format(", {} {} req {} {} denied", terminalSafe(user), t.requests,
                         humanBytes(t.bytes), t.denials);
  }
  line("users", users.empty() ? "none logged in" : users.substr(2));
  line("cache store", cacheStoreText(s));
  appendReloadLines(out, s);
  std::string blocked;
  for (const auto& b : s.blockedClients)
    blocked += fmt::format(", {} ({} left)", terminalSafe(b.client), humanDuration(b.secondsLeft));
  line("blocked", blocked.empty() ? "none" : blocked.substr(2));
  for (const auto& sc : s.timeRules.schedules) {
    line("schedule",
         fmt::format("{} ({}) {}{}", terminalSafe(sc.name), sc.zone, sc.open ? "open" : "closed",
                     sc.nextChange == SystemTime::max()
                         ? ""
                         : ", changes at " + log::formatTimestamp(sc.nextChange)));
  }
  for (const auto& r : s.timeRules.expiring) {
    line("expiring", fmt::format("rule {} ({}) at {}", terminalSafe(r.name), terminalSafe(r.where),
                                 log::formatTimestamp(r.until)));
  }
  std::string lag;
  for (size_t i = 0; i < s.loopLagMs.size(); ++i)
    lag += fmt::format(", w{} {:.1f} ms", i, s.loopLagMs[i]);
  line("loop lag", lag.empty() ? "-" : lag.substr(2));
  for (const auto& [name, c] : s.logs) {
    line(
        "log " + name,
        fmt::format("{} written, {} dropped, {} failed{}", c.written, c.dropped, c.failed,
                    c.lastError.empty() ? "" : " (last error: " + terminalSafe(c.lastError) + ")"));
  }
  return out;
}

std::string renderRecentLines(const std::vector<std::pair<uint64_t, log::AccessRecord>>& recent,
                              bool json) {
  std::string out;
  for (const auto& [seq, r] : recent) {
    if (json) {
      out += log::formatJson(r);
    } else {
      const bool denied = r.decision == log::AccessDecision::kDeny;
      fmt::format_to(std::back_inserter(out), "{} {} {} {} {} {} {} {:.0f}ms{}{}",
                     log::formatTimestamp(r.start), terminalSafe(r.client), r.status,
                     log::toString(r.cache), terminalSafe(r.method), terminalSafe(r.url),
                     r.bytesOut, r.durationMs,
                     denied ? " denied-by=" + terminalSafe(r.rule.empty() ? "-" : r.rule) : "",
                     r.error.empty() ? "" : " error=" + terminalSafe(r.error));
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace portcullis::admin
