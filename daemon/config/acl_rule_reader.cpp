// [[rule]] tables -> acl::Rule, resolving the set names read by acl_loader.cpp.

#include <algorithm>

#include "daemon/config/acl_load_context.h"
#include "daemon/config/auth_loader.h"
#include "daemon/config/schedule_loader.h"

namespace portcullis::config {

namespace {

using Ctx = AclLoadContext;

/// Reads `from`/`to` of a rule side: a set name or an array of names.
void readRefs(Ctx& c, const toml::table& side, std::string_view key, bool sources,
              std::vector<size_t>& out) {
  const toml::node* n = side.get(key);
  if (n == nullptr) return;
  std::vector<std::pair<std::string, toml::source_region>> names;
  if (n->is_string()) {
    names.emplace_back(n->as_string()->get(), n->source());
  } else if (const toml::array* a = n->as_array()) {
    if (a->empty()) c.r.error(n->source(), "'" + std::string(key) + "' is empty");
    for (const toml::node& el : *a) {
      if (el.is_string()) {
        names.emplace_back(el.as_string()->get(), el.source());
      } else {
        c.r.error(el.source(), "set names must be strings, not " + TomlReader::typeName(el));
      }
    }
  } else {
    c.r.error(n->source(), "'" + std::string(key) +
                               "' must be a set name or an array of names, not " +
                               TomlReader::typeName(*n));
  }
  auto& index = sources ? c.sourceIndex : c.destIndex;
  auto& used = sources ? c.sourceUsed : c.destUsed;
  for (const auto& [name, where] : names) {
    auto it = index.find(name);
    if (it == index.end()) {
      std::string known;
      for (const auto& [k, v] : index) known += (known.empty() ? "" : ", ") + k;
      c.r.error(where, std::string("no ") + (sources ? "source" : "destination") + " set named '" +
                           name + "' (defined: " + (known.empty() ? "none" : known) + ")");
      continue;
    }
    used[it->second] = true;
    out.push_back(it->second);
  }
}

constexpr std::string_view kAllowExample =
    "e.g.\n  [sources]\n  lan = [\"192.168.1.0/24\"]\n  [destinations]\n"
    "  web = { hosts = [\"*\"], ports = [80, 443] }\n  [[rule]]\n"
    "  allow = { from = \"lan\", to = \"web\" }";

/// `mode = "enforce"` (the default) or `"log"`: a log-mode rule is evaluated
/// and logged (would_deny / would_allow) but decides nothing.
void readRuleMode(Ctx& c, const toml::table& t, acl::Rule& rule) {
  std::string mode = "enforce";
  if (!c.r.getString(t, "mode", mode)) return;
  if (mode == "log") {
    rule.logOnly = true;
    const toml::source_region& w = t.get("mode")->source();
    c.r.add(Severity::kNote, c.r.file(), static_cast<int>(w.begin.line),
            static_cast<int>(w.begin.column),
            "this rule is in log mode: it decides nothing, its matches are logged as "
            "would_deny / would_allow");
  } else if (mode != "enforce") {
    c.r.error(t.get("mode")->source(),
              "'mode' must be \"enforce\" or \"log\", not \"" + mode + "\"");
  }
}

void readRule(Ctx& c, size_t index, const toml::node& node) {
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    c.r.error(node.source(), "each [[rule]] must be a table, not " + TomlReader::typeName(node));
    return;
  }
  acl::Rule rule;
  rule.where = location(c, node.source());
  rule.name = "rule#" + std::to_string(index + 1);
  if (c.r.getString(*t, "name", rule.name) && rule.name.empty()) {
    c.r.error(t->get("name")->source(), "'name' must not be empty");
  }
  readRuleMode(c, *t, rule);
  const toml::node* allow = t->get("allow");
  const toml::node* deny = t->get("deny");
  if ((allow == nullptr) == (deny == nullptr)) {
    c.r.error(node.source(), std::string("a rule needs exactly one of 'allow' or 'deny'") +
                                 (allow ? ", not both" : ""));
    return;
  }
  rule.verdict = allow ? acl::Verdict::kAllow : acl::Verdict::kDeny;
  c.allowSeen = c.allowSeen || allow != nullptr;
  const toml::node* side = allow ? allow : deny;
  const toml::table* st = side->as_table();
  if (st == nullptr) {
    c.r.error(side->source(),
              std::string("'") + (allow ? "allow" : "deny") +
                  "' must be a table such as { from = \"lan\", to = \"web\" }, not " +
                  TomlReader::typeName(*side));
    return;
  }
  readRefs(c, *st, "from", true, rule.from);
  readRefs(c, *st, "to", false, rule.to);
  readRuleUsers(c.r, *st, rule);
  readRuleTime(c, *t, rule, std::chrono::system_clock::now());
  if (allow) {
    std::string missing = !st->contains("from") && !st->contains("to") ? "'from' and 'to'"
                          : !st->contains("from")                      ? "'from'"
                          : !st->contains("to")                        ? "'to'"
                                                                       : "";
    if (!missing.empty()) {
      c.r.error(side->source(),
                "an allow rule needs both 'from' (a source set) and 'to' (a "
                "destination set); this one has no " +
                    missing + "; " + std::string(kAllowExample));
      return;
    }
  } else if (!st->contains("from") && !st->contains("to") && !rule.hasTimeCondition()) {
    c.r.warning(side->source(),
                "this deny rule has neither 'from' nor 'to': it denies everything, "
                "so no later rule can match");
  }
  if (std::any_of(c.impl.rules.begin(), c.impl.rules.end(),
                  [&](const acl::Rule& r) { return r.name == rule.name; })) {
    c.r.error(t->contains("name") ? t->get("name")->source() : node.source(),
              "a rule named '" + rule.name + "' already exists; rule names must be unique");
  }
  c.impl.rules.push_back(std::move(rule));
}

}  // namespace

void readRules(Ctx& c, const toml::table& root) {
  const toml::node* n = root.get("rule");
  if (n == nullptr) return;
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    c.r.error(n->source(), "rules are written [[rule]] (an array of tables), not [rule]");
    return;
  }
  for (size_t i = 0; i < a->size(); ++i) readRule(c, i, *a->get(i));
}

void checkUsable(Ctx& c, const toml::table& root) {
  bool anyAllow = std::any_of(c.impl.rules.begin(), c.impl.rules.end(), [](const acl::Rule& r) {
    return r.verdict == acl::Verdict::kAllow && !r.from.empty() && !r.to.empty();
  });
  if (anyAllow || c.allowSeen) return;
  const toml::node* rules = root.get("rule");
  std::string msg =
      "nothing is allowed: no allow rule names both a source set and a "
      "destination set, so every request would be denied; add one, " +
      std::string(kAllowExample);
  if (rules != nullptr) {
    c.r.error(rules->source(), msg);
  } else {
    c.r.add(Severity::kError, c.r.file(), 1, 1, msg);
  }
}

}  // namespace portcullis::config
