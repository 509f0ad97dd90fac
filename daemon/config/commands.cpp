#include "daemon/config/commands.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "acl/policy_impl.h"
#include "acl/special_ranges.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/explain_time.h"
#include "daemon/config/explain_user.h"
#include "daemon/config/parent_loader.h"
#include "daemon/config/sni_loader.h"
#include "daemon/http/uri.h"

namespace portcullis::config {

namespace {

struct Target {
  std::string scheme;  // "" for CONNECT
  std::string host;    // no brackets
  uint16_t port = 0;
  bool isConnect = false;
};

/// `--to`: a URL (the daemon's absolute-form) or HOST:PORT (its CONNECT
/// authority-form), read by the daemon's own parsers (daemon/http/uri.h), so
/// explain refuses what the daemon would answer 400 and sees the same host.
std::optional<Target> parseTarget(const std::string& to, const std::string& method,
                                  std::string& error) {
  const bool isUrl = to.find("://") != std::string::npos;
  auto parsed = isUrl ? http::parseAbsoluteForm(to) : http::parseAuthorityForm(to);
  if (!parsed) {
    error = (isUrl ? "cannot read the URL '" + to + "'"
                   : "'" + to + "' is neither a URL (http://host/path) nor HOST:PORT") +
            ": " + parsed.error().message;
    return std::nullopt;
  }
  Target t;
  t.scheme = parsed->scheme;
  t.host = parsed->host;
  t.port = parsed->port;
  if (isUrl) return t;
  t.isConnect = method.empty() || method == "CONNECT";
  if (!t.isConnect) t.scheme = "http";
  return t;
}

/// A `mode = "log"` rule that matched on the way: reported, not enforced.
void printWould(std::ostream& out, const acl::Decision& d) {
  if (!d.would) return;
  out << "  log-mode rule " << d.would->rule << " (" << d.would->where.toString() << ") would "
      << (d.would->verdict == acl::Verdict::kAllow ? "allow" : "deny")
      << " this (mode = \"log\": not enforced; logged as "
      << (d.would->verdict == acl::Verdict::kAllow ? "would_allow" : "would_deny") << ")\n";
}

void printDecision(std::ostream& out, std::string_view label, const acl::Decision& d) {
  out << label << (d.allowed() ? "ALLOW" : "DENY") << " by " << d.rule;
  if (!d.where.file.empty()) out << " (" << d.where.toString() << ")";
  out << "\n  " << d.reason << "\n";
  printWould(out, d);
}

void printSourceSets(std::ostream& out, const acl::Policy& policy, const acl::IpAddress& client) {
  std::string names;
  for (const acl::SourceSet& s : policy.impl().sources) {
    if (s.cidrs.contains(client)) names += (names.empty() ? "" : ", ") + s.name;
  }
  out << "client " << client.toString()
      << " is in source set(s): " << (names.empty() ? "none" : names) << "\n";
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

namespace {

/// No address known yet (a name, no --resolve): the decision before DNS.
int explainBeforeDns(std::ostream& out, const acl::Policy& policy, const acl::RequestFacts& facts) {
  acl::Decision d = policy.evaluate(facts);
  printDecision(out, "before DNS: ", d);
  if (d.allowed()) {
    out << "after DNS: every address " << facts.host
        << " resolves to is checked again; addresses in special ranges (loopback, private,"
           " link-local, multicast, ...) are refused unless a destination set of the allowing"
           " rule names them with a CIDR inside the range and itself matches this request"
           " (use --resolve to check now)\n";
  }
  return d.allowed() ? 0 : 1;
}

/// Each address on its own, then all of them together as the daemon decides.
int explainAddresses(std::ostream& out, const acl::Policy& policy, const acl::RequestFacts& facts,
                     const char* label) {
  for (const acl::IpAddress& a : facts.addresses) {
    acl::RequestFacts one = facts;
    one.addresses = std::span<const acl::IpAddress>(&a, 1);
    acl::Decision d = policy.evaluate(one);
    const acl::SpecialRange* sp = acl::findSpecialRange(a);
    out << "address " << a.toString() << (sp ? " (" + std::string(sp->what) + ")" : "") << ": "
        << (d.allowed() ? "ALLOW" : "DENY") << " by " << d.rule << "\n";
  }
  acl::Decision d = policy.evaluate(facts);
  printDecision(out, label, d);
  return d.allowed() ? 0 : 1;
}

}  // namespace

int runExplain(const std::string& path, const std::string& from, const std::string& to,
               const std::string& method, std::ostream& out, std::ostream& err,
               const HostResolver& resolve, const std::string& user, const std::string& at) {
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
  std::string timeError;
  const auto when = explainTime(at, timeError);
  if (!when) {
    err << "--at: " << timeError << "\n";
    return 2;
  }
  const acl::Policy& policy = *r.config->policy;
  std::string m = method.empty() ? (target->isConnect ? "CONNECT" : "GET") : method;
  out << "request: " << m << " " << to << " from " << client->toString() << "\n";
  printSourceSets(out, policy, *client);
  if (!target->isConnect) printCacheFacts(out, r.config->cache, to);
  if (target->isConnect) out << describeSniCheck(*r.config, *client, target->host);
  // [[safe_search]]: the daemon resolves the forced-safe name instead.
  const auto safe = safeSearchFor(r.config->safeSearch, policy, *client, target->host);
  if (safe) {
    out << "safe search: " << target->host << " is connected to the addresses of " << safe->safeName
        << " (" << safe->service << " = \"" << safe->mode << "\", [[safe_search]] from = \""
        << safe->from << "\"); the request is unchanged\n";
  }
  // The same admission function as the daemon's (acl::Policy::evaluate, hard
  // rules included), on the same facts: before DNS, then per address.
  acl::RequestFacts facts;
  facts.client = *client;
  facts.method = m;
  facts.scheme = target->scheme;
  facts.host = target->host;
  facts.port = target->port;
  facts.isConnect = target->isConnect;
  std::vector<std::string> groups;
  if (!explainUserGroups(*r.config, user, groups, out, err)) return 2;
  facts.user = user;
  facts.groups = groups;
  facts.time = *when;
  printIdentity(out, *r.config, user, groups);
  out << describeParents(*r.config, facts);
  printTimeFacts(out, policy, *when, !at.empty());
  auto literal = acl::IpAddress::parse(target->host);
  std::vector<acl::IpAddress> addresses;
  if (literal) {
    addresses.push_back(*literal);
  } else if (resolve) {
    // The daemon's resolver and [dns] settings: what `run` would get.
    auto resolved = resolve(r.config->dns, safe ? safe->safeName : target->host);
    if (!resolved.ok() || resolved->empty()) {
      err << "cannot resolve '" << target->host
          << "': " << (resolved.ok() ? "no address" : resolved.error().message) << "\n";
      return 2;
    }
    addresses = std::move(resolved.value());
  }
  if (addresses.empty()) return explainBeforeDns(out, policy, facts);
  facts.addresses = addresses;
  return explainAddresses(out, policy, facts, literal ? "decision: " : "after DNS: ");
}

}  // namespace portcullis::config
