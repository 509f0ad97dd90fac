#include "acl/host_set.h"

#include <algorithm>
#include <functional>

namespace portcullis::acl {

namespace {
constexpr size_t kMaxName = 253;  // RFC 1035 §2.3.4
constexpr size_t kMaxLabel = 63;

uint64_t hashName(std::string_view s) { return std::hash<std::string_view>{}(s); }

uint64_t labelBit(std::string_view name) {
  size_t labels = static_cast<size_t>(std::count(name.begin(), name.end(), '.')) + 1;
  return uint64_t{1} << std::min<size_t>(labels, 63);
}

bool validLabelChar(char c) {
  // Letters, digits, '-' (RFC 952/1123) and '_' (seen in real names, e.g. SRV-style).
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool validName(std::string_view name, std::string& error) {
  if (name.empty()) {
    error = "empty host name";
    return false;
  }
  if (name.size() > kMaxName) {
    error = "host name longer than 253 characters";
    return false;
  }
  size_t labelStart = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      size_t len = i - labelStart;
      if (len == 0 || len > kMaxLabel) {
        error = "'" + std::string(name) + "' has an empty or over-long label";
        return false;
      }
      labelStart = i + 1;
      continue;
    }
    if (!validLabelChar(name[i])) {
      error = "'" + std::string(name) + "' contains '" + std::string(1, name[i]) +
              "', which is not allowed in a host name";
      return false;
    }
  }
  return true;
}
}  // namespace

std::string normaliseHost(std::string_view host) {
  std::string out(host);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::optional<HostPattern> parseHostPattern(std::string_view text, bool bareMeansBoth,
                                            std::string& error) {
  HostPattern p;
  if (text == "*") {
    p.any = true;
    return p;
  }
  std::string_view rest = text;
  p.match = bareMeansBoth ? HostMatch::kBoth : HostMatch::kExact;
  // "*.example.org" and ".example.org" both mean the domain and everything
  // under it, inline and in list files alike: blocklists in the wild write
  // "*.ads.example" meaning the whole domain, and a rule that left the bare
  // name out would let "ads.example" itself through.
  if (rest.starts_with("*.")) {
    rest.remove_prefix(2);
    p.match = HostMatch::kBoth;
  } else if (rest.starts_with(".")) {
    rest.remove_prefix(1);
    p.match = HostMatch::kBoth;
  }
  p.name = normaliseHost(rest);
  if (p.name.find('*') != std::string::npos) {
    error = "'" + std::string(text) + "': '*' is only allowed as \"*\" or a leading \"*.\"";
    return std::nullopt;
  }
  if (!validName(p.name, error)) return std::nullopt;
  return p;
}

uint8_t HostSet::flagsOf(std::string_view name, uint64_t hash) const {
  if (slots_.empty()) return 0;
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.flags == 0) return 0;
    if (s.hash == hash && nameAt(s) == name) return s.flags;
  }
}

void HostSet::reserve(size_t n) {
  size_t want = 16;
  while (want < (count_ + n) * 2) want *= 2;
  if (want > slots_.size()) grow(want);
}

void HostSet::grow(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity != 0 ? capacity : (old.empty() ? 16 : old.size() * 2), Slot{});
  size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.flags == 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].flags != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void HostSet::add(const HostPattern& pattern) {
  if (pattern.any) {
    any_ = true;
    return;
  }
  // Keep the load factor under 1/2 so probes stay short.
  if ((count_ + 1) * 2 > slots_.size()) grow();
  uint64_t bit = labelBit(pattern.name);
  if (static_cast<uint8_t>(pattern.match) & static_cast<uint8_t>(HostMatch::kExact)) exactLabels_ |= bit;
  if (static_cast<uint8_t>(pattern.match) & static_cast<uint8_t>(HostMatch::kSubdomains)) subLabels_ |= bit;
  uint64_t h = hashName(pattern.name);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.flags == 0) {
      s.hash = h;
      s.offset = static_cast<uint32_t>(arena_.size());
      s.length = static_cast<uint8_t>(pattern.name.size());
      s.flags = static_cast<uint8_t>(pattern.match);
      arena_ += pattern.name;
      ++count_;
      return;
    }
    if (s.hash == h && nameAt(s) == pattern.name) {
      s.flags |= static_cast<uint8_t>(pattern.match);
      return;
    }
  }
}

bool HostSet::contains(std::string_view host) const {
  if (any_) return true;
  if (count_ == 0 || host.empty()) return false;
  size_t labels = static_cast<size_t>(std::count(host.begin(), host.end(), '.')) + 1;
  auto bitFor = [](size_t n) { return uint64_t{1} << std::min<size_t>(n, 63); };
  if ((exactLabels_ & bitFor(labels)) &&
      (flagsOf(host, hashName(host)) & static_cast<uint8_t>(HostMatch::kExact))) {
    return true;
  }
  // Walk the parent domains: a.b.example.org -> b.example.org -> example.org -> org.
  for (size_t dot = host.find('.'); dot != std::string_view::npos;
       dot = host.find('.', dot + 1)) {
    --labels;
    if (!(subLabels_ & bitFor(labels))) continue;
    std::string_view parent = host.substr(dot + 1);
    if (flagsOf(parent, hashName(parent)) & static_cast<uint8_t>(HostMatch::kSubdomains)) {
      return true;
    }
  }
  return false;
}

bool HostSet::subtreeCovered(std::string_view name) const {
  constexpr auto kSub = static_cast<uint8_t>(HostMatch::kSubdomains);
  if (flagsOf(name, hashName(name)) & kSub) return true;
  for (size_t dot = name.find('.'); dot != std::string_view::npos;
       dot = name.find('.', dot + 1)) {
    std::string_view parent = name.substr(dot + 1);
    if (flagsOf(parent, hashName(parent)) & kSub) return true;
  }
  return false;
}

bool HostSet::coversAll(const HostSet& other) const {
  if (any_) return true;
  if (other.any_) return false;
  for (const Slot& s : other.slots_) {
    if (s.flags == 0) continue;
    std::string_view name = other.nameAt(s);
    if ((s.flags & static_cast<uint8_t>(HostMatch::kExact)) && !contains(name)) return false;
    // Every subdomain of `name` is matched only through a kSubdomains entry
    // on `name` or one of its parents.
    if ((s.flags & static_cast<uint8_t>(HostMatch::kSubdomains)) && !subtreeCovered(name)) {
      return false;
    }
  }
  return true;
}

bool HostSet::reaches(const HostSet& other) const {
  constexpr auto kExactBit = static_cast<uint8_t>(HostMatch::kExact);
  constexpr auto kSubBit = static_cast<uint8_t>(HostMatch::kSubdomains);
  for (const Slot& s : slots_) {
    if (s.flags == 0) continue;
    std::string_view name = nameAt(s);
    if ((s.flags & kExactBit) && other.contains(name)) return true;
    // Subdomains of `name` are shared when `other` matches the subdomains of
    // `name` or of a parent; a subtree of `other` below `name` is found when
    // `other` walks towards this set (see intersects).
    if ((s.flags & kSubBit) && other.subtreeCovered(name)) return true;
  }
  return false;
}

bool HostSet::intersects(const HostSet& other) const {
  if (empty() || other.empty()) return false;
  if (any_ || other.any_) return true;
  return reaches(other) || other.reaches(*this);
}

std::string HostSet::patternCoveredBy(const HostSet& outer) const {
  constexpr auto kExactBit = static_cast<uint8_t>(HostMatch::kExact);
  constexpr auto kSubBit = static_cast<uint8_t>(HostMatch::kSubdomains);
  if (any_) return outer.any_ ? "*" : "";
  for (const Slot& s : slots_) {
    if (s.flags == 0) continue;
    std::string_view name = nameAt(s);
    bool covered = outer.any_ || ((!(s.flags & kExactBit) || outer.contains(name)) &&
                                  (!(s.flags & kSubBit) || outer.subtreeCovered(name)));
    if (covered) return (s.flags & kSubBit) ? "*." + std::string(name) : std::string(name);
  }
  return "";
}

}  // namespace portcullis::acl
