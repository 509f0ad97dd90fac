#pragma once
// Warnings about an ACL that loads but probably does not do what its author
// meant: blocks a set already covers, a source set that is the whole
// Internet, methods in lower case, and rules in an order where an earlier
// rule quietly decides what a later one names. Split from acl_loader.cpp,
// which reads the sets and rules; these only look at what it read.

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "acl/cidr.h"
#include "acl/policy_impl.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// Warns about blocks that another block of the same set already contains.
void warnOverlaps(TomlReader& r, const std::string& setName, const std::vector<acl::Cidr>& cidrs,
                  const std::vector<toml::source_region>& where);

/// Warns about a /0 in a source set: every client on the Internet.
void warnWholeInternet(TomlReader& r, const std::string& setName,
                       const std::vector<acl::Cidr>& cidrs,
                       const std::vector<toml::source_region>& where);

/// Warns about `methods` entries with lower-case letters: methods are
/// case-sensitive (RFC 9110 §9.1) and clients send them in capitals, so
/// "get" never matches.
void warnLowerCaseMethods(TomlReader& r, const toml::table& destinationSet);

/// Warns about rules that can never match and about ordering mistakes
/// (acl::findRuleIssues), at the later rule, naming both rules' file:line.
void warnRuleOrder(TomlReader& r, const acl::PolicyImpl& policy);

}  // namespace portcullis::config
