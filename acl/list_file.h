#pragma once
// Parsers for list files: host lists (blocklists) and CIDR lists. Pure: they
// take the file's text, so they can be fuzzed and tested without disk.
//
// Host list: one pattern per line; '#' starts a comment; blank lines are
// skipped. Every name matches itself and its subdomains, written bare,
// "*.name" or ".name" (the blocklist convention). Hosts-file lines
// ("0.0.0.0 ads.example.com") are accepted: the address is ignored.
// CIDR list: one address or CIDR per line, same comment rules.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "acl/cidr.h"
#include "acl/host_set.h"

namespace portcullis::acl {

/// A bad line in a list file (1-based line and column).
struct ListIssue {
  int line = 0;
  int column = 0;
  std::string message;
};

struct ListStats {
  size_t entries = 0;     ///< patterns or blocks added
  size_t bad = 0;         ///< lines skipped as invalid (all counted)
  size_t hostBitsSet = 0; ///< CIDR lists: blocks with host bits set
};

/// Adds every valid pattern of `text` to `into`. At most `maxIssues` issues
/// are recorded; all are counted in the stats.
ListStats parseHostList(std::string_view text, HostSet& into, std::vector<ListIssue>& issues,
                        size_t maxIssues = 10);

/// Appends every valid block of `text` to `into`.
ListStats parseCidrList(std::string_view text, std::vector<Cidr>& into,
                        std::vector<ListIssue>& issues, size_t maxIssues = 10);

}  // namespace portcullis::acl
