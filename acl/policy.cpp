#include "acl/policy.h"

#include <algorithm>
#include <optional>

#include "acl/policy_impl.h"
#include "acl/rule_time.h"
#include "acl/special_ranges.h"

namespace portcullis::acl {

namespace {

// A rule's match before DNS can be "maybe": it depends on addresses not yet known.
enum class Tri { kNo, kMaybe, kYes };

constexpr uint16_t kSmtpPort = 25;
constexpr uint16_t kDefaultConnectPort = 443;

struct Query {
  std::string host;                  // normalised name; "" for an IP literal
  std::optional<IpAddress> literal;  // the host when it is an IP literal
  uint16_t port = 0;
  std::string_view method;
  std::string scheme;  // lower case; "connect" for CONNECT
  bool isConnect = false;
};

bool inPorts(const std::vector<PortRange>& ports, uint16_t p) {
  return std::any_of(ports.begin(), ports.end(),
                     [p](const PortRange& r) { return r.first <= p && p <= r.last; });
}

struct DestMatch {
  Tri tri = Tri::kNo;
  bool connectPortMiss = false;  // everything matched but the CONNECT port
};

DestMatch matchDestination(const DestinationSet& d, const Query& q, const IpAddress* addr) {
  if (!d.methods.empty() &&
      std::find(d.methods.begin(), d.methods.end(), q.method) == d.methods.end()) {
    return {};
  }
  if (!d.schemes.empty() &&
      std::find(d.schemes.begin(), d.schemes.end(), q.scheme) == d.schemes.end()) {
    return {};
  }
  Tri host = Tri::kYes;
  if (d.hasHostCondition()) {
    host = Tri::kNo;
    if (d.hosts.matchesAny() || (!q.literal && d.hosts.contains(q.host))) {
      host = Tri::kYes;
    } else if (!d.cidrs.empty()) {
      if (addr == nullptr) {
        host = Tri::kMaybe;
      } else {
        host = d.cidrs.contains(*addr) ? Tri::kYes : Tri::kNo;
      }
    }
  }
  if (host == Tri::kNo) return {};
  bool portOk =
      q.isConnect ? connectPortAllowed(d, q.port) : (d.ports.empty() || inPorts(d.ports, q.port));
  if (!portOk) return {Tri::kNo, q.isConnect};
  return {host, false};
}

/// Whether the rule's users condition holds for this identity.
bool identityMatches(const Rule& r, std::string_view user, std::span<const std::string> groups) {
  if (!r.needsIdentity()) return true;
  if (user.empty()) return false;
  if (std::find(r.users.begin(), r.users.end(), user) != r.users.end()) return true;
  return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
    return std::find(r.groups.begin(), r.groups.end(), g) != r.groups.end();
  });
}

Tri matchNetwork(const PolicyImpl& p, const Rule& r, const IpAddress& client, const Query& q,
                 const IpAddress* addr, bool& connectMiss);

/// The rule's match for this request; `loginWouldHelp` is set when an
/// allow rule naming users would match an anonymous request but for its user.
Tri matchRule(const PolicyImpl& p, const Rule& r, const RequestFacts& f, const Query& q,
              const IpAddress* addr, bool& connectMiss, bool& loginWouldHelp) {
  if (r.hasTimeCondition() && !ruleActiveAt(p, r, f.time)) return Tri::kNo;
  // A log-mode rule changes neither the 407 hint nor the CONNECT-port reason.
  bool ignored = false;
  Tri t = matchNetwork(p, r, f.client, q, addr, r.logOnly ? ignored : connectMiss);
  if (t == Tri::kNo || identityMatches(r, f.user, f.groups)) return t;
  if (f.user.empty() && r.verdict == Verdict::kAllow && !r.logOnly) loginWouldHelp = true;
  return Tri::kNo;
}

/// Remembers the first log-mode rule that matched (Decision::would).
void noteWould(std::optional<WouldMatch>& would, const Rule& r) {
  if (!would) would = WouldMatch{r.verdict, r.name, r.where};
}

Decision withWould(Decision d, std::optional<WouldMatch> would) {
  d.would = std::move(would);
  return d;
}

Tri matchNetwork(const PolicyImpl& p, const Rule& r, const IpAddress& client, const Query& q,
                 const IpAddress* addr, bool& connectMiss) {
  if (!r.from.empty() && std::none_of(r.from.begin(), r.from.end(), [&](size_t i) {
        return p.sources[i].cidrs.contains(client);
      })) {
    return Tri::kNo;
  }
  if (r.to.empty()) return Tri::kYes;
  Tri best = Tri::kNo;
  for (size_t i : r.to) {
    DestMatch m = matchDestination(p.destinations[i], q, addr);
    connectMiss = connectMiss || m.connectPortMiss;
    if (m.tri == Tri::kYes) return Tri::kYes;
    if (m.tri == Tri::kMaybe) best = Tri::kMaybe;
  }
  return best;
}

// A special range is opened only by a destination set that both names it
// (a CIDR inside the range, written by the admin) and matches the whole
// request on its own: host or address, port, method and scheme. Another set
// of the same rule (e.g. hosts = ["*"]) must not lend it the port or the
// method that set lacks.
bool opensSpecial(const PolicyImpl& p, const Rule& r, const Query& q, const IpAddress& addr,
                  const IpAddress& checked) {
  return std::any_of(r.to.begin(), r.to.end(), [&](size_t i) {
    const DestinationSet& d = p.destinations[i];
    return d.openedSpecial.contains(checked) && matchDestination(d, q, &addr).tri == Tri::kYes;
  });
}

Decision builtin(Verdict v, std::string rule, std::string reason) {
  Decision d;
  d.verdict = v;
  d.rule = std::move(rule);
  d.reason = std::move(reason);
  return d;
}

Decision byRule(const Rule& r, std::string extra = {}) {
  Decision d;
  d.verdict = r.verdict;
  d.rule = r.name;
  d.where = r.where;
  d.reason = std::string(r.verdict == Verdict::kAllow ? "allowed" : "denied") + " by rule \"" +
             r.name + "\" (" + r.where.toString() + ")" + extra;
  return d;
}

Decision defaultDeny(bool connectMiss, uint16_t port) {
  if (connectMiss) {
    return builtin(Verdict::kDeny, "hard:connect-port",
                   "CONNECT to port " + std::to_string(port) +
                       " is refused: no destination set of a matching allow rule names this "
                       "port (a set without ports allows CONNECT to 443 only)");
  }
  return builtin(Verdict::kDeny, "default-deny",
                 "no rule allows this request (nothing is allowed unless a rule says so)");
}

Query makeQuery(const RequestFacts& f) {
  Query q;
  std::string_view h = f.host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  q.literal = IpAddress::parse(h);
  if (!q.literal) q.host = normaliseHost(h);
  q.port = f.port;
  q.method = f.method;
  q.isConnect = f.isConnect;
  q.scheme = f.isConnect ? "connect" : normaliseHost(f.scheme);
  return q;
}

Decision selfDecision(const SelfAddresses::Endpoint& e, const IpAddress& addr, uint16_t port) {
  std::string via;
  if (!(e.first == addr)) {
    std::string listen = e.first.isV4() ? e.first.toString() : "[" + e.first.toString() + "]";
    via = " (it listens on " + listen + ":" + std::to_string(e.second) +
          (SelfAddresses::isWildcard(e.first) ? ", which answers on every local address)"
                                              : "; the unspecified address reaches it)");
  }
  return builtin(Verdict::kDeny, "hard:self",
                 addr.toString() + " port " + std::to_string(port) +
                     " is this proxy's own listening address" + via + ": a request loop");
}

Decision specialDenied(const Query& q, const IpAddress& addr, const SpecialMatch& sm,
                       const Rule& rule) {
  std::string who =
      q.literal ? addr.toString() : q.host + " resolves to " + addr.toString() + ", which";
  std::string carried;
  if (!(sm.checked == addr))
    carried = " (it carries the IPv4 address " + sm.checked.toString() + ")";
  return builtin(Verdict::kDeny, "hard:special-address",
                 who + " is a " + std::string(sm.range->what) + " address" + carried + " (" +
                     sm.range->cidr.toString() + "); rule \"" + rule.name + "\" (" +
                     rule.where.toString() +
                     ") would allow it, but none of its destination sets both names this range "
                     "with a CIDR inside it and matches the whole request (host, port, method, "
                     "scheme)");
}

Decision withLogin(Decision d, bool loginWouldHelp) {
  if (!loginWouldHelp || d.allowed()) return d;
  d.loginWouldHelp = true;
  d.reason += "; a rule for logged-in users would allow it";
  return d;
}

Decision decideAddress(const PolicyImpl& p, const SelfAddresses& self, const Query& q,
                       const RequestFacts& f, const IpAddress& addr) {
  if (auto e = self.reaches(addr, q.port)) return selfDecision(*e, addr, q.port);
  const std::optional<SpecialMatch> sm = findSpecial(addr);
  const SpecialRange* special = sm ? sm->range : nullptr;
  const Rule* blockedAllow = nullptr;
  bool connectMiss = false;
  bool login = false;
  std::optional<WouldMatch> would;
  for (const Rule& r : p.rules) {
    if (matchRule(p, r, f, q, &addr, connectMiss, login) != Tri::kYes) continue;
    const bool blocked = r.verdict == Verdict::kAllow && special != nullptr &&
                         !opensSpecial(p, r, q, addr, sm->checked);
    if (r.logOnly) {
      // A log-mode allow that could not open this special range would not
      // have decided either.
      if (!blocked) noteWould(would, r);
      continue;
    }
    if (r.verdict == Verdict::kDeny) {
      return withWould(withLogin(byRule(r, " for address " + addr.toString()), login), would);
    }
    // An allow rule opens a special range only through a CIDR the admin wrote
    // inside that range; otherwise later rules may still open it.
    if (blocked) {
      if (blockedAllow == nullptr) blockedAllow = &r;
      continue;
    }
    return withWould(byRule(r, " for address " + addr.toString()), would);
  }
  if (blockedAllow != nullptr) return withWould(specialDenied(q, addr, *sm, *blockedAllow), would);
  return withWould(withLogin(defaultDeny(connectMiss, q.port), login), would);
}

/// Before DNS: refuse only when every outcome after DNS would be a refusal.
Decision evaluateBeforeDns(const PolicyImpl& p, const RequestFacts& facts, const Query& q) {
  const Rule* maybeAllow = nullptr;
  bool maybeSeen = false;
  bool connectMiss = false;
  bool login = false;
  std::optional<WouldMatch> would;
  for (const Rule& r : p.rules) {
    Tri t = matchRule(p, r, facts, q, nullptr, connectMiss, login);
    if (t == Tri::kNo) continue;
    if (r.logOnly) {
      // Only a sure match is reported; after DNS the addresses decide.
      if (t == Tri::kYes) noteWould(would, r);
      continue;
    }
    if (t == Tri::kMaybe) {
      maybeSeen = true;
      if (r.verdict == Verdict::kAllow && maybeAllow == nullptr) maybeAllow = &r;
      continue;
    }
    if (r.verdict == Verdict::kAllow) {
      Decision d = byRule(r, "; before DNS: addresses are checked next");
      d.addressesDecide = maybeSeen;
      return withWould(std::move(d), would);
    }
    if (maybeAllow == nullptr) return withWould(withLogin(byRule(r), login), would);
    break;
  }
  if (maybeAllow != nullptr) {
    Decision d = byRule(*maybeAllow, "; before DNS: may match depending on the addresses");
    d.addressesDecide = true;
    return withWould(std::move(d), would);
  }
  return withWould(withLogin(defaultDeny(connectMiss, q.port), login), would);
}

}  // namespace

bool connectPortAllowed(const DestinationSet& set, uint16_t port) {
  if (set.ports.empty()) return port == kDefaultConnectPort;
  return inPorts(set.ports, port);
}

Policy::Policy(std::shared_ptr<const PolicyImpl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

void Policy::setSelfAddresses(SelfAddresses self) {
  self_ = std::move(self);
}

Decision Policy::evaluateSource(const IpAddress& client) const {
  for (const Rule& r : impl_->rules) {
    if (r.logOnly) continue;  // never refuses a connection
    bool fromMatches = r.from.empty() || std::any_of(r.from.begin(), r.from.end(), [&](size_t i) {
                         return impl_->sources[i].cidrs.contains(client);
                       });
    if (!fromMatches) continue;
    // A rule with a destination, user or time condition may or may not match later.
    if (!r.to.empty() || r.needsIdentity() || r.hasTimeCondition()) {
      if (r.verdict == Verdict::kAllow) return byRule(r, " (source only; destination not yet known)");
      continue;
    }
    return byRule(r);
  }
  return builtin(Verdict::kDeny, "default-deny",
                 "no allow rule names a source set containing " + client.toString());
}

bool Policy::destinationMatches(size_t index, const RequestFacts& facts) const {
  if (index >= impl_->destinations.size()) return false;
  Query q = makeQuery(facts);
  const IpAddress* addr = q.literal ? &*q.literal : nullptr;
  return matchDestination(impl_->destinations[index], q, addr).tri == Tri::kYes;
}

Decision Policy::evaluate(const RequestFacts& facts) const {
  if (facts.port == kSmtpPort) {
    return builtin(Verdict::kDeny, "hard:port-25",
                   "port 25 (SMTP) is never reachable through the proxy: open proxies are "
                   "abused to send spam");
  }
  Query q = makeQuery(facts);
  std::vector<IpAddress> literal;
  std::span<const IpAddress> addresses = facts.addresses;
  if (addresses.empty() && q.literal) {
    literal.push_back(*q.literal);
    addresses = literal;
  }
  const PolicyImpl& p = *impl_;
  if (addresses.empty()) {
    // Before DNS: refuse only when every outcome after DNS would be a refusal.
    return evaluateBeforeDns(p, facts, q);
  }
  Decision first;
  bool haveFirst = false;
  for (const IpAddress& addr : addresses) {
    Decision d = decideAddress(p, self_, q, facts, addr);
    if (!d.allowed()) return d;
    if (!haveFirst) {
      first = std::move(d);
      haveFirst = true;
    }
  }
  return first;
}

}  // namespace portcullis::acl
