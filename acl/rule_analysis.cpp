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
}  // namespace

bool destinationCovers(const DestinationSet& outer, const DestinationSet& inner) {
  return hostsCover(outer, inner) && portsCover(outer.ports, inner.ports) &&
         wordsCover(outer.methods, inner.methods) && wordsCover(outer.schemes, inner.schemes);
}

std::vector<Shadowed> findShadowedRules(const PolicyImpl& p) {
  std::vector<Shadowed> out;
  for (size_t j = 1; j < p.rules.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      if (sourcesCover(p, p.rules[i], p.rules[j]) && destinationsCover(p, p.rules[i], p.rules[j])) {
        out.push_back({j, i});
        break;
      }
    }
  }
  return out;
}

}  // namespace portcullis::acl
