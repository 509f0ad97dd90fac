#pragma once
// /etc/hosts parsing (pure): evdns's own resolve calls do not consult it.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "acl/ip_address.h"

namespace portcullis::net {

/// Lower-case host name -> addresses in file order. Malformed lines are skipped.
using HostsTable = std::unordered_map<std::string, std::vector<acl::IpAddress>>;

HostsTable parseHostsFile(std::string_view text);

/// Reads and parses the file; an unreadable file gives an empty table.
HostsTable loadHostsFile(const std::string& path);

}  // namespace portcullis::net
