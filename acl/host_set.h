#pragma once
// A set of host-name patterns matched by a hashed suffix walk: a lookup
// hashes the name and each of its parent domains once (O(labels)), whatever
// the size of the set. Names are stored once in an arena and indexed by an
// open-addressing table, so a 1-million-name blocklist costs tens of MB.
// Built once, then read-only and safe to share between threads.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::acl {

/// How a stored name matches.
enum class HostMatch : uint8_t {
  kExact = 1,       ///< "example.org" (inline) matches example.org only
  kSubdomains = 2,  ///< proper subdomains only (no pattern syntax; a flag bit)
  kBoth = 3,        ///< "*.example.org", ".example.org", list-file names: both
};

struct HostPattern {
  std::string name;  ///< normalised: lower case, no trailing dot; "" for "*"
  HostMatch match = HostMatch::kExact;
  bool any = false;  ///< the pattern "*": every host
};

/// Parses one pattern: "*", "example.org", "*.example.org", ".example.org".
/// "*.name" and ".name" match the name itself and its subdomains; a bare
/// name matches exactly, unless `bareMeansBoth` (list files), when it too
/// matches its subdomains.
/// On failure returns nullopt and sets `error`.
std::optional<HostPattern> parseHostPattern(std::string_view text, bool bareMeansBoth,
                                            std::string& error);

/// Lower-cases `host` and drops one trailing dot ("Example.ORG." ->
/// "example.org"), so that spelling cannot dodge a pattern.
std::string normaliseHost(std::string_view host);

class HostSet {
 public:
  void add(const HostPattern& pattern);
  /// Makes room for `n` more names at once (list files: avoids rehashing).
  void reserve(size_t n);
  /// `host` must be normalised (see normaliseHost).
  bool contains(std::string_view host) const;
  bool matchesAny() const { return any_; }
  bool empty() const { return !any_ && count_ == 0; }
  size_t size() const { return count_; }
  /// True when every pattern of `other` is also matched here, pattern by
  /// pattern (used to find rules shadowed by earlier ones).
  bool coversAll(const HostSet& other) const;
  /// True when some host name is matched both here and by `other`.
  bool intersects(const HostSet& other) const;
  /// One pattern of this set that `outer` matches whole, as it would be
  /// written ("name", "*.name" or "*"); "" when there is none. Which one,
  /// when several are, is unspecified (for diagnostics).
  std::string patternCoveredBy(const HostSet& outer) const;
  /// Calls `visit(name, match)` once per stored name, in no particular
  /// order ("*" is matchesAny(), not visited). For generated files (PAC).
  template <typename Visit>
  void forEachName(Visit&& visit) const {
    for (const Slot& s : slots_) {
      if (s.flags != 0) visit(nameAt(s), static_cast<HostMatch>(s.flags));
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint8_t length = 0;
    uint8_t flags = 0;  ///< 0 = empty slot; else HostMatch bits
  };
  uint8_t flagsOf(std::string_view name, uint64_t hash) const;
  void grow(size_t capacity = 0);
  bool subtreeCovered(std::string_view name) const;
  /// Some entry here shares a name with `other`, found from this side.
  bool reaches(const HostSet& other) const;
  std::string_view nameAt(const Slot& s) const { return {arena_.data() + s.offset, s.length}; }

  std::string arena_;
  std::vector<Slot> slots_;
  size_t count_ = 0;
  bool any_ = false;
  // Bit k set when some stored name with k labels (k < 64; 63 = "63 or
  // more") has that match kind: a lookup probes only parent domains whose
  // label count some entry has, so most walks cost one or two probes.
  uint64_t exactLabels_ = 0;
  uint64_t subLabels_ = 0;
};

}  // namespace portcullis::acl
