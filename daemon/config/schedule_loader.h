#pragma once
// [schedules] -> acl::Schedule, and the time conditions of a [[rule]]
// (when, unless, until), every problem at its line and column.

#include "daemon/base/clock.h"
#include "daemon/config/acl_load_context.h"

namespace portcullis::config {

/// Reads every [schedules] entry into `c.impl.schedules` (before the rules).
void readSchedules(AclLoadContext& c, const toml::table& root);

/// Reads `when`, `unless` and `until` of the rule table `t` into `rule`.
/// `now` only decides the warning for an `until` already past.
void readRuleTime(AclLoadContext& c, const toml::table& t, acl::Rule& rule, SystemTime now);

/// Warns about schedules no rule names.
void warnUnusedSchedules(AclLoadContext& c, const toml::table& root);

}  // namespace portcullis::config
