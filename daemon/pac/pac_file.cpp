#include "daemon/pac/pac_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "acl/policy_impl.h"
#include "acl/special_ranges.h"

namespace portcullis::pac {

namespace {

// The address helpers every generated file carries. Addresses become 32 hex
// digits (IPv4 as ::ffff:a.b.c.d, as acl::IpAddress keeps them), so that
// ranges compare as strings: no BigInt, no isInNetEx, which some PAC engines
// (WinHTTP's, older ones) lack. Plain ES3 only.
constexpr std::string_view kHelpers = R"js(
function pcHexV4(host) {
  if (!/^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(host)) return "";
  var parts = host.split("."), hex = "";
  for (var i = 0; i < 4; i++) {
    var n = parseInt(parts[i], 10);
    if (n > 255) return "";
    hex += (n < 16 ? "0" : "") + n.toString(16);
  }
  return hex;
}

// An IP literal as 32 hex digits, or "" for a host name.
function pcHex(host) {
  var v4 = pcHexV4(host);
  if (v4) return "00000000000000000000ffff" + v4;
  if (host.indexOf(":") < 0 || !/^[0-9a-f:.]+$/.test(host)) return "";
  if (host.indexOf(".") >= 0) {  // "::ffff:192.0.2.1": the last 32 bits written as IPv4
    var last = host.lastIndexOf(":");
    var tail = pcHexV4(host.substring(last + 1));
    if (!tail) return "";
    host = host.substring(0, last + 1) + tail.substring(0, 4) + ":" + tail.substring(4);
  }
  var halves = host.split("::");
  if (halves.length > 2) return "";
  var groups = halves[0] ? halves[0].split(":") : [];
  var rest = halves.length == 2 && halves[1] ? halves[1].split(":") : [];
  var missing = 8 - groups.length - rest.length;
  if (halves.length == 1 ? missing != 0 : missing < 1) return "";
  for (var i = 0; halves.length == 2 && i < missing; i++) groups.push("0");
  groups = groups.concat(rest);
  var hex = "";
  for (var j = 0; j < 8; j++) {
    if (!/^[0-9a-f]{1,4}$/.test(groups[j])) return "";
    hex += "0000".substring(groups[j].length) + groups[j];
  }
  return hex;
}

function pcInRanges(hex, ranges) {
  for (var i = 0; i < ranges.length; i++) {
    if (hex >= ranges[i][0] && hex <= ranges[i][1]) return true;
  }
  return false;
}

// The most specific registry entry decides (entries are most specific first).
function pcSpecial(hex) {
  for (var i = 0; i < pcSpecialRanges.length; i++) {
    var r = pcSpecialRanges[i];
    if (hex >= r[0] && hex <= r[1]) return r[2] == 1;
  }
  return false;
}

function pcDirectName(host) {
  if (pcDirectAny || pcDirectExact.hasOwnProperty(host)) return true;
  for (var dot = host.indexOf("."); dot >= 0; dot = host.indexOf(".", dot + 1)) {
    if (pcDirectParents.hasOwnProperty(host.substring(dot + 1))) return true;
  }
  return pcDirectParents.hasOwnProperty(host) && pcDirectParents[host] == 2;
}

function FindProxyForURL(url, host) {
  var scheme = url.substring(0, url.indexOf(":")).toLowerCase();
  if (scheme != "http" && scheme != "https" && scheme != "ws" && scheme != "wss") return "DIRECT";
  host = host.toLowerCase();
  if (host.charAt(0) == "[") host = host.substring(1, host.length - 1);
  if (host.charAt(host.length - 1) == ".") host = host.substring(0, host.length - 1);
  var hex = pcHex(host);
  if (hex) {
    if (pcInRanges(hex, pcDirectRanges)) return "DIRECT";
    if (pcSpecial(hex) && !pcInRanges(hex, pcOpenedRanges)) return "DIRECT";
    return pcProxies;
  }
  if (host.indexOf(".") < 0) return "DIRECT";
  if (pcDirectName(host)) return "DIRECT";
  return pcProxies;
}
)js";

std::string hex(const acl::U128& v) {
  return fmt::format("{:016x}{:016x}", v.hi, v.lo);
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// `[["first","last"], ...]` for the ranges of `sets` (merged per set).
std::string rangesArray(const std::vector<const acl::CidrSet*>& sets) {
  std::set<std::pair<std::string, std::string>> ranges;
  for (const acl::CidrSet* s : sets) {
    s->forEachRange([&](const acl::U128& first, const acl::U128& last) {
      ranges.emplace(hex(first), hex(last));
    });
  }
  std::string out = "[";
  for (const auto& [first, last] : ranges) {
    out += (out.size() > 1 ? ",\n  [" : "\n  [") + quoted(first) + ", " + quoted(last) + "]";
  }
  return out + (out.size() > 1 ? "\n]" : "]");
}

/// The special-purpose registry without the entries that only carry an
/// embedded IPv4 address (IPv4-mapped, 6to4, ...): a PAC file judges only
/// the literal it is given. 1 = refused unless opened, 0 = reachable.
std::string specialArray() {
  std::string out = "[";
  for (const acl::SpecialRange& r : acl::specialRanges()) {
    if (r.embeds != acl::Embedding::kNone) continue;
    out += fmt::format("{}\n  [\"{}\", \"{}\", {}]", out.size() > 1 ? "," : "", hex(r.cidr.first()),
                       hex(r.cidr.last()), r.special() ? 1 : 0);
  }
  return out + "\n]";
}

/// Names of the direct sets: exact names, and parents whose subdomains
/// match (1 = subdomains only, 2 = the name too).
std::string directNames(const config::Config& config, const acl::PolicyImpl& impl) {
  std::set<std::string> exact;
  std::map<std::string, int> parents;
  bool any = false;
  for (size_t index : config.pac.direct) {
    const acl::HostSet& hosts = impl.destinations[index].hosts;
    any = any || hosts.matchesAny();
    hosts.forEachName([&](std::string_view name, acl::HostMatch match) {
      const auto bits = static_cast<unsigned>(match);
      if (bits == static_cast<unsigned>(acl::HostMatch::kExact)) exact.emplace(name);
      if (bits & static_cast<unsigned>(acl::HostMatch::kSubdomains)) {
        int& kind = parents[std::string(name)];
        kind = std::max(kind, bits == static_cast<unsigned>(acl::HostMatch::kBoth) ? 2 : 1);
      }
    });
  }
  std::string out = fmt::format("var pcDirectAny = {};\nvar pcDirectExact = {{", any);
  bool first = true;
  for (const std::string& name : exact) {
    out += (first ? "\n  " : ",\n  ") + quoted(name) + ": 1";
    first = false;
  }
  out += first ? "};\nvar pcDirectParents = {" : "\n};\nvar pcDirectParents = {";
  first = true;
  for (const auto& [name, kind] : parents) {
    out += fmt::format("{}{}: {}", first ? "\n  " : ",\n  ", quoted(name), kind);
    first = false;
  }
  return out + (first ? "};\n" : "\n};\n");
}

std::string proxyList(const config::PacConfig& pac) {
  std::string out;
  for (const std::string& p : pac.proxies) out += (out.empty() ? "" : "; ") + p;
  if (pac.fallbackDirect || out.empty()) out += out.empty() ? "DIRECT" : "; DIRECT";
  return out;
}

}  // namespace

std::string renderPacFile(const config::Config& config) {
  static const acl::PolicyImpl kNoRules;
  const acl::PolicyImpl& impl = config.policy ? config.policy->impl() : kNoRules;
  std::vector<const acl::CidrSet*> direct, opened;
  for (size_t index : config.pac.direct) direct.push_back(&impl.destinations[index].cidrs);
  for (const acl::DestinationSet& set : impl.destinations) opened.push_back(&set.openedSpecial);
  std::string out = fmt::format(
      "// Proxy auto-config generated by Portcullis from {}.\n"
      "// Do not edit: change [pac] and the rules there, then reload.\n"
      "var pcProxies = {};\n",
      config.path.empty() ? std::string("its configuration") : config.path,
      quoted(proxyList(config.pac)));
  out += "// [pac] direct: names, then address ranges (32 hex digits; IPv4 as ::ffff:a.b.c.d).\n";
  out += directNames(config, impl);
  out += "var pcDirectRanges = " + rangesArray(direct) + ";\n";
  out +=
      "// Special-purpose addresses (IANA registries), most specific first:\n"
      "// [first, last, 1 = refused unless a destination set opens it].\n";
  out += "var pcSpecialRanges = " + specialArray() + ";\n";
  out += "// The special ranges some destination set opens.\n";
  out += "var pcOpenedRanges = " + rangesArray(opened) + ";\n";
  out += kHelpers;
  return out;
}

}  // namespace portcullis::pac
