#include "daemon/config/commands.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <vector>

#include "acl/policy_impl.h"
#include "acl/special_ranges.h"
#include "daemon/config/config_loader.h"
#include "daemon/http/uri.h"

namespace portcullis::config {

namespace {

struct Target {
  std::string scheme;  // "" for CONNECT
  std::string host;    // no brackets
  uint16_t port = 0;
  bool isConnect = false;
};

std::optional<uint16_t> parsePort(std::string_view s) {
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), p);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || p == 0 || p > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(p);
}

/// "host", "host:port", "[v6]", "[v6]:port" -> host, port (0 if absent).
bool splitAuthority(std::string_view a, std::string& host, uint16_t& port) {
  std::string_view portText;
  if (a.starts_with('[')) {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(a.substr(1, close - 1));
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      portText = rest.substr(1);
    }
  } else {
    size_t colon = a.rfind(':');
    if (colon != std::string_view::npos && a.find(':') != colon) return false;  // bare v6
    host = std::string(a.substr(0, colon));
    if (colon != std::string_view::npos) portText = a.substr(colon + 1);
  }
  if (host.empty()) return false;
  port = 0;
  if (!portText.empty()) {
    auto p = parsePort(portText);
    if (!p) return false;
    port = *p;
  }
  return true;
}

std::optional<Target> parseTarget(const std::string& to, const std::string& method,
                                  std::string& error) {
  Target t;
  if (size_t sep = to.find("://"); sep != std::string::npos) {
    t.scheme = to.substr(0, sep);
    std::transform(t.scheme.begin(), t.scheme.end(), t.scheme.begin(), ::tolower);
    std::string_view rest = std::string_view(to).substr(sep + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    if (!splitAuthority(rest, t.host, t.port)) {
      error = "cannot read the host and port of '" + to + "'";
      return std::nullopt;
    }
    if (t.port == 0) t.port = t.scheme == "https" ? 443 : 80;
    return t;
  }
  if (!splitAuthority(to, t.host, t.port) || t.port == 0) {
    error = "'" + to + "' is neither a URL (http://host/path) nor HOST:PORT";
    return std::nullopt;
  }
  t.isConnect = method.empty() || method == "CONNECT";
  if (!t.isConnect) t.scheme = "http";
  return t;
}

void printDecision(std::ostream& out, std::string_view label, const acl::Decision& d) {
  out << label << (d.allowed() ? "ALLOW" : "DENY") << " by " << d.rule;
  if (!d.where.file.empty()) out << " (" << d.where.toString() << ")";
  out << "\n  " << d.reason << "\n";
}

void printSourceSets(std::ostream& out, const acl::Policy& policy, const acl::IpAddress& client) {
  std::string names;
  for (const acl::SourceSet& s : policy.impl().sources) {
    if (s.cidrs.contains(client)) names += (names.empty() ? "" : ", ") + s.name;
  }
  out << "client " << client.toString() << " is in source set(s): "
      << (names.empty() ? "none" : names) << "\n";
}

/// The cache key `url` is stored under and the refresh rule it gets: the
/// same functions the daemon's cache stage calls.
void printCacheFacts(std::ostream& out, const CacheConfig& cache, const std::string& url) {
  auto target = http::parseAbsoluteForm(url);
  if (!target.ok()) return;
  const cache::policy::CacheRules& rules = *cache.rules;
  out << "cache key: " << rules.primaryKey(*target);
  if (const auto* alias = rules.aliasFor(target->host)) {
    out << " (identity '" << alias->identity << "', " << alias->where << ")";
  }
  out << "\n";
  if (const auto* rule = rules.refreshFor(*target)) {
    const auto& h = rule->heuristic;
    out << "refresh rule: " << rule->where << ": min " << h.minSeconds << "s, max " << h.maxSeconds
        << "s, " << h.percent << "% (when the origin gives no explicit freshness)\n";
  }
  if (!cache.enabled) out << "(the cache is disabled: nothing is stored)\n";
}

}  // namespace

int runValidate(const std::string& path, bool strict, std::ostream& out, std::ostream& err) {
  LoadResult r = loadConfigFile(path);
  size_t errors = 0, warnings = 0;
  for (const Diagnostic& d : r.diagnostics) {
    err << d.format() << "\n";
    if (d.severity == Severity::kError) ++errors;
    if (d.severity == Severity::kWarning) ++warnings;
  }
  if (errors > 0 || (strict && warnings > 0)) {
    err << path << ": " << errors << " error(s), " << warnings << " warning(s)"
        << (errors == 0 ? " (--strict makes warnings fatal)" : "") << "\n";
    return 1;
  }
  out << "configuration OK";
  if (warnings > 0) out << " (" << warnings << " warning(s))";
  out << "\n";
  return 0;
}

int runExplain(const std::string& path, const std::string& from, const std::string& to,
               const std::string& method, std::ostream& out, std::ostream& err,
               const HostResolver& resolve) {
  LoadResult r = loadConfigFile(path);
  if (!r.config) {
    for (const Diagnostic& d : r.diagnostics) err << d.format() << "\n";
    return 2;
  }
  auto client = acl::IpAddress::parse(from);
  if (!client) {
    err << "--from: '" << from << "' is not an IP address\n";
    return 2;
  }
  std::string error;
  auto target = parseTarget(to, method, error);
  if (!target) {
    err << "--to: " << error << "\n";
    return 2;
  }
  const acl::Policy& policy = *r.config->policy;
  std::string m = method.empty() ? (target->isConnect ? "CONNECT" : "GET") : method;
  out << "request: " << m << " " << to << " from " << client->toString() << "\n";
  printSourceSets(out, policy, *client);
  if (!target->isConnect) printCacheFacts(out, r.config->cache, to);
  // The same admission function as the daemon's (acl::Policy::evaluate, hard
  // rules included), on the same facts: before DNS, then per address.
  acl::RequestFacts facts;
  facts.client = *client;
  facts.method = m;
  facts.scheme = target->scheme;
  facts.host = target->host;
  facts.port = target->port;
  facts.isConnect = target->isConnect;
  auto literal = acl::IpAddress::parse(target->host);
  std::vector<acl::IpAddress> addresses;
  if (literal) {
    addresses.push_back(*literal);
  } else if (resolve) {
    // The daemon's resolver and [dns] settings: what `run` would get.
    auto resolved = resolve(r.config->dns, target->host);
    if (!resolved.ok() || resolved->empty()) {
      err << "cannot resolve '" << target->host
          << "': " << (resolved.ok() ? "no address" : resolved.error().message) << "\n";
      return 2;
    }
    addresses = std::move(resolved.value());
  }
  if (addresses.empty()) {
    acl::Decision d = policy.evaluate(facts);
    printDecision(out, "before DNS: ", d);
    if (d.allowed()) {
      out << "after DNS: every address " << target->host
          << " resolves to is checked again; addresses in special ranges (loopback, private,"
             " link-local, multicast, ...) are refused unless a destination set of the allowing"
             " rule names them with a CIDR inside the range and itself matches this request"
             " (use --resolve to check now)\n";
    }
    return d.allowed() ? 0 : 1;
  }
  facts.addresses = addresses;
  for (const acl::IpAddress& a : addresses) {
    acl::RequestFacts one = facts;
    one.addresses = std::span<const acl::IpAddress>(&a, 1);
    acl::Decision d = policy.evaluate(one);
    const acl::SpecialRange* sp = acl::findSpecialRange(a);
    out << "address " << a.toString() << (sp ? " (" + std::string(sp->what) + ")" : "") << ": "
        << (d.allowed() ? "ALLOW" : "DENY") << " by " << d.rule << "\n";
  }
  acl::Decision d = policy.evaluate(facts);
  printDecision(out, literal ? "decision: " : "after DNS: ", d);
  return d.allowed() ? 0 : 1;
}

}  // namespace portcullis::config
