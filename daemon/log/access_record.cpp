#include "daemon/log/access_record.h"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "daemon/http/host_port.h"
#include "daemon/log/json_writer.h"

namespace portcullis::log {
namespace {

struct UtcParts {
  std::tm tm{};
  int millis = 0;
  int64_t seconds = 0;
};

UtcParts splitUtc(SystemTime t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  UtcParts p;
  // Floor division so times before 1970 still give 0..999 ms.
  p.seconds = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  p.millis = static_cast<int>(ms - p.seconds * 1000);
  const auto tt = static_cast<std::time_t>(p.seconds);
  gmtime_r(&tt, &p.tm);
  return p;
}

// Squid columns are separated by spaces: %-encode anything that would
// split or break a column (space, controls, DEL, '%' itself, non-ASCII).
std::string squidField(std::string_view s) {
  if (s.empty()) return "-";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '%') {
      fmt::format_to(std::back_inserter(out), "%{:02X}", c);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// Apache's escaping of logged strings (ap_escape_logitem): \" \\ and \xHH.
std::string combinedField(std::string_view s) {
  if (s.empty()) return "-";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7F) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string_view squidCode(const AccessRecord& r) {
  if (r.decision == AccessDecision::kDeny) return "TCP_DENIED";
  if (r.method == "CONNECT") return "TCP_TUNNEL";
  switch (r.cache) {
    case CacheResult::kHit:
      return "TCP_HIT";
    case CacheResult::kMiss:
      return "TCP_MISS";
    case CacheResult::kRevalidated:
      return "TCP_REFRESH_UNMODIFIED";
    case CacheResult::kStale:
      return "TCP_REFRESH_FAIL_OLD";
    case CacheResult::kCollapsed:
      return "TCP_CF_MISS";
    case CacheResult::kBypass:
      return "TCP_CLIENT_REFRESH_MISS";
    case CacheResult::kPartial:
      return "TCP_MISS";
    case CacheResult::kNone:
      break;
  }
  return r.error.empty() ? "TCP_MISS" : "TAG_NONE";
}

// "ip:port" / "[v6]:port" -> "ip" / "v6"; anything else as it is.
std::string hostOnly(std::string_view addr) {
  const auto hp = http::parseHostPort(addr, {.portRequired = false, .portZeroAllowed = true});
  return hp ? hp->host : std::string(addr);
}

// "a,b" -> ["a","b"]
std::string addressArray(std::string_view joined) {
  JsonArray a;
  while (!joined.empty()) {
    const size_t comma = joined.find(',');
    a.value(joined.substr(0, comma));
    joined = comma == std::string_view::npos ? std::string_view{} : joined.substr(comma + 1);
  }
  return std::move(a).finish();
}

}  // namespace

std::string_view toString(CacheResult result) {
  switch (result) {
    case CacheResult::kNone:
      return "NONE";
    case CacheResult::kHit:
      return "HIT";
    case CacheResult::kMiss:
      return "MISS";
    case CacheResult::kRevalidated:
      return "REVALIDATED";
    case CacheResult::kStale:
      return "STALE";
    case CacheResult::kCollapsed:
      return "COLLAPSED";
    case CacheResult::kBypass:
      return "BYPASS";
    case CacheResult::kPartial:
      return "PARTIAL";
  }
  return "NONE";
}

bool servedFromCache(CacheResult result) {
  return result == CacheResult::kHit || result == CacheResult::kRevalidated ||
         result == CacheResult::kStale || result == CacheResult::kCollapsed;
}

std::string formatTimestamp(SystemTime t) {
  const UtcParts p = splitUtc(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", p.tm.tm_year + 1900,
                     p.tm.tm_mon + 1, p.tm.tm_mday, p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec,
                     p.millis);
}

void appendAccessFields(JsonObject& obj, const AccessRecord& r) {
  obj.field("ts", formatTimestamp(r.start)).field("client", r.client);
  if (!r.balancer.empty()) obj.field("balancer", r.balancer);  // only behind a balancer
  obj.optional("user", r.user)
      .field("method", r.method)
      .field("url", r.url)
      .field("status", r.status)
      .field("bytes_in", r.bytesIn)
      .field("bytes_out", r.bytesOut)
      .field("upstream_bytes", r.upstreamBytes)
      .field("cache", toString(r.cache))
      .optional("slice", r.slice)
      .field("decision", r.decision == AccessDecision::kAllow ? "allow" : "deny")
      .field("rule", r.rule)
      .optional("rule_where", r.ruleWhere);
  if (!r.wouldRule.empty()) {
    obj.field(r.wouldVerdict == "allow" ? "would_allow" : "would_deny", r.wouldRule);
  }
  if (!r.addresses.empty()) obj.raw("addresses", addressArray(r.addresses));
  // Microseconds are the most a log reader wants: 12.634, not 12.634299.
  obj.field("duration_ms", std::round(r.durationMs * 1000) / 1000)
      .optional("upstream", r.upstream)
      .optional("parent", r.parent)
      .optional("error", r.error)
      .optional("termination", r.termination)
      .optional("sni", r.sni)
      .optional("alpn", r.alpn)
      .field("mode", r.mode.empty() ? std::string_view("explicit") : r.mode);
}

std::string formatJson(const AccessRecord& r) {
  JsonObject obj;
  appendAccessFields(obj, r);
  return std::move(obj).finish();
}

std::string formatSquid(const AccessRecord& r) {
  const UtcParts p = splitUtc(r.start);
  const auto elapsed = static_cast<int64_t>(r.durationMs + 0.5);
  // Squid names a parent hop FIRST_PARENT_MISS (or CARP) with the peer's name.
  const std::string hier = r.upstream.empty() ? "HIER_NONE/-"
                           : r.parent.empty() ? "HIER_DIRECT/" + squidField(hostOnly(r.upstream))
                                              : "FIRST_PARENT_MISS/" + squidField(r.parent);
  return fmt::format("{}.{:03} {:>6} {} {}/{:03} {} {} {} {} {} -", p.seconds, p.millis, elapsed,
                     squidField(hostOnly(r.client)), squidCode(r), r.status, r.bytesOut,
                     squidField(r.method), squidField(r.url), squidField(r.user), hier);
}

std::string formatCombined(const AccessRecord& r) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const UtcParts p = splitUtc(r.start);
  const std::string status = r.status > 0 ? std::to_string(r.status) : "-";
  return fmt::format(
      "{} - {} [{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000] \"{} {} HTTP/1.1\" {} {} \"{}\" \"{}\"",
      combinedField(hostOnly(r.client)), combinedField(r.user), p.tm.tm_mday,
      kMonths[p.tm.tm_mon % 12], p.tm.tm_year + 1900, p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec,
      combinedField(r.method), combinedField(r.url), status, r.bytesOut, combinedField(r.referer),
      combinedField(r.userAgent));
}

}  // namespace portcullis::log
