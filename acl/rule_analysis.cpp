#include "acl/rule_analysis.h"

#include <algorithm>

namespace portcullis::acl {

namespace {
bool portsCover(const std::vector<PortRange>& outer, const std::vector<PortRange>& inner) {
  // No ports means "any, but CONNECT to 443 only": only the same covers it.
  if (outer.empty()) return inner.empty();
  if (inner.empty()) return false;
  return std::all_of(inner.begin(), inner.end(), [&](const PortRange& in) {
    return std::any_of(outer.begin(), outer.end(), [&](const PortRange& out) {
      return out.first <= in.first && in.last <= out.last;
    });
  });
}

bool wordsCover(const std::vector<std::string>& outer, const std::vector<std::string>& inner) {
  if (outer.empty()) return true;
  if (inner.empty()) return false;
  return std::all_of(inner.begin(), inner.end(), [&](const std::string& w) {
    return std::find(outer.begin(), outer.end(), w) != outer.end();
  });
}

bool hostsCover(const DestinationSet& outer, const DestinationSet& inner) {
  if (!outer.hasHostCondition() || outer.hosts.matchesAny()) return true;
  if (!inner.hasHostCondition()) return false;
  // Names in `inner` must be matched by outer's names; addresses in inner by
  // outer's addresses (a name condition never covers an address one).
  if (!outer.hosts.coversAll(inner.hosts)) return false;
  return inner.cidrs.empty() || outer.cidrs.coversAll(inner.cidrs);
}

bool sourcesCover(const PolicyImpl& p, const Rule& outer, const Rule& inner) {
  if (outer.from.empty()) return true;
  if (inner.from.empty()) return false;
  return std::all_of(inner.from.begin(), inner.from.end(), [&](size_t in) {
    return std::any_of(outer.from.begin(), outer.from.end(), [&](size_t out) {
      return in == out || p.sources[out].cidrs.coversAll(p.sources[in].cidrs);
    });
  });
}

bool destinationsCover(const PolicyImpl& p, const Rule& outer, const Rule& inner) {
  if (outer.to.empty()) return true;
  if (inner.to.empty()) return false;
  return std::all_of(inner.to.begin(), inner.to.end(), [&](size_t in) {
    return std::any_of(outer.to.begin(), outer.to.end(), [&](size_t out) {
      if (in == out) return true;
      const DestinationSet& o = p.destinations[out];
      const DestinationSet& i = p.destinations[in];
      // An earlier allow passes special addresses on to later rules unless
      // it opens them too, so a later set that opens ranges is not covered.
      if (outer.verdict == Verdict::kAllow && !i.openedSpecial.empty() &&
          !o.openedSpecial.coversAll(i.openedSpecial)) {
        return false;
      }
      return destinationCovers(o, i);
    });
  });
}
bool portsMeet(const std::vector<PortRange>& a, const std::vector<PortRange>& b) {
  if (a.empty() || b.empty()) return true;
  return std::any_of(a.begin(), a.end(), [&](const PortRange& x) {
    return std::any_of(b.begin(), b.end(),
                       [&](const PortRange& y) { return x.first <= y.last && y.first <= x.last; });
  });
}

bool wordsMeet(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) return true;
  return std::any_of(a.begin(), a.end(), [&](const std::string& w) {
    return std::find(b.begin(), b.end(), w) != b.end();
  });
}

/// Does source set `outer` hold every client of source set `inner`?
bool sourceInside(const PolicyImpl& p, size_t inner, size_t outer) {
  return inner == outer || p.sources[outer].cidrs.coversAll(p.sources[inner].cidrs);
}

bool sourcesMeet(const PolicyImpl& p, const Rule& a, const Rule& b, size_t& fromA, size_t& fromB) {
  fromA = fromB = RuleIssue::kAny;
  if (a.from.empty() || b.from.empty()) {
    if (!a.from.empty()) fromA = a.from.front();
    if (!b.from.empty()) fromB = b.from.front();
    return true;
  }
  for (size_t x : a.from) {
    for (size_t y : b.from) {
      if (x == y || p.sources[x].cidrs.intersects(p.sources[y].cidrs)) {
        fromA = x;
        fromB = y;
        return true;
      }
    }
  }
  return false;
}

/// An earlier allow passes special addresses it does not open on to later
/// rules: only its opened blocks can take a later set's special CIDRs.
bool addressesMeet(const Rule& earlier, const DestinationSet& e, const DestinationSet& l) {
  if (e.cidrs.empty() || l.cidrs.empty()) return false;
  bool laterAllSpecial = !l.openedSpecial.empty() && l.openedSpecial.coversAll(l.cidrs);
  if (earlier.verdict == Verdict::kAllow && laterAllSpecial) {
    return e.openedSpecial.intersects(l.cidrs);
  }
  return e.cidrs.intersects(l.cidrs);
}

bool meets(const Rule& earlier, const DestinationSet& e, const DestinationSet& l) {
  if (!portsMeet(e.ports, l.ports) || !wordsMeet(e.methods, l.methods) ||
      !wordsMeet(e.schemes, l.schemes)) {
    return false;
  }
  if (!e.hasHostCondition() || !l.hasHostCondition()) return true;
  return e.hosts.intersects(l.hosts) || addressesMeet(earlier, e, l);
}

bool destinationsMeetFor(const PolicyImpl& p, const Rule& e, const Rule& l, size_t& toE,
                         size_t& toL) {
  toE = toL = RuleIssue::kAny;
  if (e.to.empty() || l.to.empty()) {
    if (!e.to.empty()) toE = e.to.front();
    if (!l.to.empty()) toL = l.to.front();
    return true;
  }
  for (size_t x : l.to) {
    for (size_t y : e.to) {
      if (meets(e, p.destinations[y], p.destinations[x])) {
        toE = y;
        toL = x;
        return true;
      }
    }
  }
  return false;
}

/// A source set of `l` that lies inside a different source set of `e`.
bool innerSource(const PolicyImpl& p, const Rule& e, const Rule& l, RuleIssue& out) {
  for (size_t in : l.from) {
    if (std::find(e.from.begin(), e.from.end(), in) != e.from.end()) continue;
    for (size_t outer : e.from) {
      if (std::find(l.from.begin(), l.from.end(), outer) != l.from.end()) continue;
      if (!p.sources[in].cidrs.empty() && sourceInside(p, in, outer)) {
        out.source = in;
        out.bySource = outer;
        return true;
      }
    }
  }
  return false;
}

/// Deny `e` takes whole the part (`s`, `d`) of allow `l`: fills `out`.
bool denyTakesPart(const PolicyImpl& p, const Rule& e, size_t d, RuleIssue& out) {
  const DestinationSet& ld = p.destinations[d];
  auto takes = [&](size_t ed) {
    const DestinationSet& x = p.destinations[ed];
    // A set without ports takes every port but CONNECT to ports other than
    // 443; counting it as all ports here keeps "names video.example on 80
    // and 443" reported, which is what the admin wrote.
    if (!(x.ports.empty() || portsCover(x.ports, ld.ports)) || !wordsCover(x.methods, ld.methods) ||
        !wordsCover(x.schemes, ld.schemes)) {
      return false;
    }
    out.pattern.clear();
    out.addresses = false;
    if (!x.hasHostCondition()) return true;
    if (!ld.hosts.empty()) out.pattern = ld.hosts.patternCoveredBy(x.hosts);
    if (!out.pattern.empty()) return true;
    out.addresses = !ld.cidrs.empty() && x.cidrs.coversAll(ld.cidrs);
    return out.addresses;
  };
  if (e.to.empty()) return true;
  for (size_t ed : e.to) {
    if (takes(ed)) {
      out.byDestination = ed;
      return true;
    }
  }
  return false;
}

bool denyFirst(const PolicyImpl& p, const Rule& e, const Rule& l, RuleIssue& out) {
  for (size_t s : l.from) {
    size_t by = RuleIssue::kAny;
    if (!e.from.empty()) {
      auto it = std::find_if(e.from.begin(), e.from.end(),
                             [&](size_t t) { return sourceInside(p, s, t); });
      if (it == e.from.end()) continue;
      by = *it;
    }
    for (size_t d : l.to) {
      if (denyTakesPart(p, e, d, out)) {
        out.source = s;
        out.bySource = by;
        out.destination = d;
        return true;
      }
    }
  }
  return false;
}

/// The first partial-ordering problem between earlier rule `i` and `j`.
bool partialIssue(const PolicyImpl& p, size_t i, size_t j, RuleIssue& out) {
  const Rule& e = p.rules[i];
  const Rule& l = p.rules[j];
  out = RuleIssue{};
  out.rule = j;
  out.by = i;
  if (e.verdict == l.verdict) return false;
  size_t toE = 0, toL = 0;
  // Source sets first: they are small, while comparing two host lists
  // walks both (a million names each in a big blocklist setup).
  if (innerSource(p, e, l, out)) {
    if (!destinationsMeetFor(p, e, l, toE, toL)) return false;
    out.kind = RuleIssueKind::kInnerSource;
    out.destination = toL;
    out.byDestination = toE;
    return true;
  }
  if (e.verdict == Verdict::kDeny) {
    out.kind = RuleIssueKind::kDenyFirst;
    return denyFirst(p, e, l, out);
  }
  size_t fromE = 0, fromL = 0;
  if (!sourcesMeet(p, e, l, fromE, fromL) || !destinationsMeetFor(p, e, l, toE, toL)) {
    return false;
  }
  out.kind = RuleIssueKind::kAllowFirst;
  out.source = fromL;
  out.bySource = fromE;
  out.destination = toL;
  out.byDestination = toE;
  return true;
}
}  // namespace

bool destinationsMeet(const DestinationSet& a, const DestinationSet& b) {
  Rule deny;  // no special-range pass-through between the two
  return meets(deny, a, b);
}

bool destinationCovers(const DestinationSet& outer, const DestinationSet& inner) {
  return hostsCover(outer, inner) && portsCover(outer.ports, inner.ports) &&
         wordsCover(outer.methods, inner.methods) && wordsCover(outer.schemes, inner.schemes);
}

namespace {
/// Does every identity `inner` matches also match `outer`? A rule without
/// users matches everyone; one with users only those it names.
bool identityCovers(const Rule& outer, const Rule& inner) {
  // A rule that holds only at some times (when, unless, until) hides no
  // later rule for sure.
  if (outer.hasTimeCondition()) return false;
  if (!outer.needsIdentity()) return true;
  if (!inner.needsIdentity()) return false;
  return wordsCover(outer.users, inner.users) && wordsCover(outer.groups, inner.groups) &&
         !(inner.users.size() > 0 && outer.users.empty()) &&
         !(inner.groups.size() > 0 && outer.groups.empty());
}
}  // namespace

std::vector<Shadowed> findShadowedRules(const PolicyImpl& p) {
  std::vector<Shadowed> out;
  for (size_t j = 1; j < p.rules.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      if (p.rules[i].logOnly) continue;  // a log-mode rule decides nothing
      if (sourcesCover(p, p.rules[i], p.rules[j]) && destinationsCover(p, p.rules[i], p.rules[j]) &&
          identityCovers(p.rules[i], p.rules[j])) {
        out.push_back({j, i});
        break;
      }
    }
  }
  return out;
}

std::vector<RuleIssue> findRuleIssues(const PolicyImpl& p) {
  std::vector<RuleIssue> out;
  for (size_t j = 1; j < p.rules.size(); ++j) {
    bool found = false;
    for (size_t i = 0; i < j && !found; ++i) {
      const Rule& e = p.rules[i];
      const Rule& l = p.rules[j];
      if (e.logOnly) continue;  // a log-mode rule decides nothing
      if (!sourcesCover(p, e, l) || !destinationsCover(p, e, l) || !identityCovers(e, l)) continue;
      RuleIssue issue;
      issue.rule = j;
      issue.by = i;
      innerSource(p, e, l, issue);
      out.push_back(issue);
      found = true;
    }
    for (size_t i = 0; i < j && !found; ++i) {
      // A rule for some users only takes part of nobody's traffic for sure.
      if (p.rules[i].needsIdentity() || p.rules[i].hasTimeCondition() || p.rules[i].logOnly) {
        continue;
      }
      RuleIssue issue;
      if (partialIssue(p, i, j, issue)) {
        out.push_back(std::move(issue));
        found = true;
      }
    }
  }
  return out;
}

}  // namespace portcullis::acl
