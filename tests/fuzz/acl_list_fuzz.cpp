// The list-file parsers (host lists and CIDR lists) on arbitrary bytes, and
// the structures they fill queried with names and addresses from the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "acl/cidr_set.h"
#include "acl/host_set.h"
#include "acl/list_file.h"

using namespace portcullis::acl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  HostSet hosts;
  std::vector<ListIssue> issues;
  ListStats hs = parseHostList(text, hosts, issues);
  if (issues.size() > 10 || hs.bad < issues.size()) std::abort();

  std::vector<Cidr> cidrs;
  issues.clear();
  parseCidrList(text, cidrs, issues);
  CidrSet set;
  for (const Cidr& c : cidrs) set.add(c);
  set.finalize();
  // Every block parsed must contain its own first and last address.
  for (const Cidr& c : cidrs) {
    if (!set.contains(c.base) || !set.contains(c.last().toAddress())) std::abort();
  }
  // Query with every line as a name: a name that was added must match.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    // The raw line, as parseHostList would see a one-field line.
    std::string name(text.substr(pos, end - pos));
    std::string err;
    auto p = parseHostPattern(name, true, err);
    if (p && !p->any && p->match == HostMatch::kBoth && !IpAddress::parse(name) &&
        !hosts.contains(p->name)) {
      std::abort();
    }
    pos = end + 1;
  }
  return 0;
}
