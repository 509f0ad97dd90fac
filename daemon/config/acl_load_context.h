#pragma once
// Internal to the ACL loader: the state shared by acl_loader.cpp (sets) and
// acl_rule_reader.cpp (rules) while one policy is loaded.

#include <map>
#include <string>
#include <vector>

#include "acl/policy_impl.h"
#include "daemon/config/toml_reader.h"

namespace portcullis::config {

/// What the [sources]/[destinations] reader and the [[rule]] reader share while one
/// policy is loaded.
struct AclLoadContext {
  TomlReader& r;
  std::string baseDir;
  acl::PolicyImpl impl;
  std::map<std::string, size_t, std::less<>> sourceIndex;
  std::map<std::string, size_t, std::less<>> destIndex;
  std::vector<bool> sourceUsed;
  std::vector<bool> destUsed;
  std::vector<toml::source_region> sourceWhere;
  std::vector<toml::source_region> destWhere;
  bool allowSeen = false;  // an allow rule was written, even a broken one
};

inline acl::SourceLocation location(const AclLoadContext& c, const toml::source_region& w) {
  return acl::SourceLocation{c.r.file(), static_cast<int>(w.begin.line),
                             static_cast<int>(w.begin.column)};
}

/// Reads every [[rule]] into `c.impl.rules`, resolving set names.
void readRules(AclLoadContext& c, const toml::table& root);

/// Refuses a policy in which no allow rule names both a source and a destination:
/// closed by default means such a config is an error, not a proxy that denies all.
void checkUsable(AclLoadContext& c, const toml::table& root);

}  // namespace portcullis::config
