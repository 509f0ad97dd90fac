// The ordering checks behind `portcullis validate`: which earlier rule
// decides part of what a later one names, and which orders are the idiom.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "acl/policy_impl.h"
#include "acl/rule_analysis.h"
#include "acl/special_ranges.h"

using namespace portcullis::acl;

namespace {
struct Dest {
  std::vector<const char*> hosts;
  std::vector<const char*> cidrs;
  std::vector<PortRange> ports;
  std::vector<std::string> methods;
};

// Builds a PolicyImpl by name, as the config loader would.
struct Builder {
  PolicyImpl p;
  size_t indexOf(const std::vector<SourceSet>& v, const char* name) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i].name == name) return i;
    }
    FAIL("no source set " << name);
    return 0;
  }
  Builder& source(const char* name, std::vector<const char*> cidrs) {
    SourceSet s;
    s.name = name;
    for (const char* c : cidrs) s.cidrs.add(*parseCidr(c).cidr);
    s.cidrs.finalize();
    p.sources.push_back(std::move(s));
    return *this;
  }
  Builder& dest(const char* name, const Dest& spec) {
    DestinationSet d;
    d.name = name;
    std::string err;
    for (const char* h : spec.hosts) d.hosts.add(*parseHostPattern(h, false, err));
    for (const char* c : spec.cidrs) {
      Cidr cidr = *parseCidr(c).cidr;
      d.cidrs.add(cidr);
      if (cidrWithinSpecial(cidr)) d.openedSpecial.add(cidr);
    }
    d.cidrs.finalize();
    d.openedSpecial.finalize();
    d.ports = spec.ports;
    d.methods = spec.methods;
    p.destinations.push_back(std::move(d));
    return *this;
  }
  Builder& rule(const char* name, Verdict v, std::vector<const char*> from,
                std::vector<const char*> to) {
    Rule r;
    r.name = name;
    r.where = SourceLocation{"t.toml", static_cast<int>(p.rules.size() + 1) * 10, 1};
    r.verdict = v;
    for (const char* f : from) r.from.push_back(indexOf(p.sources, f));
    for (const char* t : to) {
      size_t i = 0;
      while (i < p.destinations.size() && p.destinations[i].name != t) ++i;
      REQUIRE(i < p.destinations.size());
      r.to.push_back(i);
    }
    p.rules.push_back(std::move(r));
    return *this;
  }
};

constexpr Verdict kAllow = Verdict::kAllow;
constexpr Verdict kDeny = Verdict::kDeny;
const std::vector<PortRange> kWebPorts = {{80, 80}, {443, 443}};

// The school of etc/examples: rooms, staff, a blocklist and the web.
Builder school() {
  Builder b;
  b.source("classrooms", {"10.20.0.0/16"}).source("staff", {"10.30.0.0/16"});
  b.dest("blocked", {{"games.example", "*.ads.example"}, {}, {}, {}});
  b.dest("web", {{"*"}, {}, kWebPorts, {}});
  b.dest("intranet", {{"*.school.example"}, {"10.99.0.0/16"}, kWebPorts, {}});
  return b;
}

std::string name(const PolicyImpl& p, size_t i) {
  return i == RuleIssue::kAny ? "any" : p.sources.size() > i ? p.sources[i].name : "?";
}
}  // namespace

TEST_CASE("a sensible order gives no issue") {
  SUBCASE("school: deny blocked first, then the allows") {
    Builder b = school();
    b.rule("blocklist", kDeny, {}, {"blocked"});
    b.rule("intranet", kAllow, {"classrooms", "staff"}, {"intranet"});
    b.rule("classrooms-web", kAllow, {"classrooms"}, {"web"});
    b.rule("staff-web", kAllow, {"staff"}, {"web"});
    CHECK(findRuleIssues(b.p).empty());
  }
  SUBCASE("isp: one abuser inside the customers denied first") {
    Builder b;
    b.source("customers", {"203.0.113.0/24"}).source("abuse", {"203.0.113.66/32"});
    b.dest("web", {{"*"}, {}, kWebPorts, {}});
    b.rule("abuse-block", kDeny, {"abuse"}, {});
    b.rule("customers-web", kAllow, {"customers"}, {"web"});
    CHECK(findRuleIssues(b.p).empty());
  }
  SUBCASE("allow then deny of requests the allow does not take") {
    Builder b = school();
    b.dest("submission", {{}, {}, {{587, 587}}, {}});
    b.rule("classrooms-web", kAllow, {"classrooms"}, {"web"});
    b.rule("no-submission", kDeny, {}, {"submission"});      // other ports
    b.rule("staff-blocked", kDeny, {"staff"}, {"blocked"});  // other clients
    CHECK(findRuleIssues(b.p).empty());
  }
  SUBCASE("an allow of every name does not take private addresses it does not open") {
    Builder b = school();
    b.dest("lab", {{}, {"10.99.5.0/24"}, {}, {}});
    b.rule("classrooms-web", kAllow, {"classrooms"}, {"web"});
    b.rule("no-lab", kDeny, {}, {"lab"});
    CHECK(findRuleIssues(b.p).empty());
  }
}

TEST_CASE("an allow above a deny it overlaps") {
  Builder b = school();
  b.rule("classrooms-web", kAllow, {"classrooms"}, {"web"});
  b.rule("blocklist", kDeny, {}, {"blocked"});
  auto issues = findRuleIssues(b.p);
  REQUIRE(issues.size() == 1);
  const RuleIssue& s = issues[0];
  CHECK(s.kind == RuleIssueKind::kAllowFirst);
  CHECK(b.p.rules[s.rule].name == "blocklist");
  CHECK(b.p.rules[s.by].name == "classrooms-web");
  CHECK(name(b.p, s.bySource) == "classrooms");
  CHECK(b.p.destinations[s.destination].name == "blocked");

  SUBCASE("also when the allow opens the private range the deny names") {
    Builder c = school();
    c.dest("lab", {{}, {"10.99.5.0/24"}, {}, {}});
    c.rule("intranet", kAllow, {"classrooms"}, {"intranet"});
    c.rule("no-lab", kDeny, {}, {"lab"});
    auto more = findRuleIssues(c.p);
    REQUIRE(more.size() == 1);
    CHECK(more[0].kind == RuleIssueKind::kAllowFirst);
  }
}

TEST_CASE("a deny above an allow: reported only when it takes a whole part the allow names") {
  Builder b = school();
  b.source("teachers", {"10.40.0.0/16"});
  b.dest("social", {{"video.example", "chat.example"}, {}, {}, {}});
  b.dest("edu", {{"video.example", "learn.example"}, {}, kWebPorts, {}});
  b.rule("no-social", kDeny, {}, {"social"});
  b.rule("teachers-edu", kAllow, {"teachers"}, {"edu"});
  auto issues = findRuleIssues(b.p);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].kind == RuleIssueKind::kDenyFirst);
  CHECK(b.p.rules[issues[0].rule].name == "teachers-edu");
  CHECK(issues[0].pattern == "video.example");
  CHECK(b.p.destinations[issues[0].destination].name == "edu");

  SUBCASE("a source set the deny takes whole") {
    Builder c = school();
    c.rule("no-classrooms", kDeny, {"classrooms"}, {});
    c.rule("everyone-web", kAllow, {"classrooms", "staff"}, {"web"});
    auto more = findRuleIssues(c.p);
    REQUIRE(more.size() == 1);
    CHECK(more[0].kind == RuleIssueKind::kDenyFirst);
    CHECK(name(c.p, more[0].source) == "classrooms");
    CHECK(more[0].pattern.empty());
  }
}

TEST_CASE("a source set inside another that an earlier rule names") {
  Builder b;
  b.source("teachers", {"10.0.0.0/8"}).source("pupils", {"10.10.0.0/16"});
  b.dest("web", {{"*"}, {}, kWebPorts, {}});
  b.dest("social", {{"chat.example"}, {}, {}, {}});
  b.dest("edu", {{"learn.example"}, {}, kWebPorts, {}});

  SUBCASE("the teachers' allow decides for pupils before their deny") {
    b.rule("teachers-web", kAllow, {"teachers"}, {"web"});
    b.rule("pupils-no-social", kDeny, {"pupils"}, {"social"});
    auto issues = findRuleIssues(b.p);
    REQUIRE(issues.size() == 1);
    CHECK(issues[0].kind == RuleIssueKind::kInnerSource);
    CHECK(name(b.p, issues[0].source) == "pupils");
    CHECK(name(b.p, issues[0].bySource) == "teachers");
  }
  SUBCASE("a pupils' allow the teachers' rule covers: shadowed, with the reason") {
    b.rule("teachers-web", kAllow, {"teachers"}, {"web"});
    b.rule("pupils-edu", kAllow, {"pupils"}, {"edu"});
    auto issues = findRuleIssues(b.p);
    REQUIRE(issues.size() == 1);
    CHECK(issues[0].kind == RuleIssueKind::kShadowed);
    CHECK(name(b.p, issues[0].source) == "pupils");
    CHECK(name(b.p, issues[0].bySource) == "teachers");
  }
  SUBCASE("pupils' rules first: fine") {
    b.rule("pupils-no-social", kDeny, {"pupils"}, {"social"});
    b.rule("teachers-web", kAllow, {"teachers"}, {"web"});
    CHECK(findRuleIssues(b.p).empty());
  }
}

TEST_CASE("full shadowing is still reported, once per rule") {
  Builder b = school();
  b.rule("classrooms-web", kAllow, {"classrooms"}, {"web"});
  b.rule("again", kAllow, {"classrooms"}, {"web"});
  auto issues = findRuleIssues(b.p);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].kind == RuleIssueKind::kShadowed);
  CHECK(issues[0].source == RuleIssue::kAny);
  CHECK(findShadowedRules(b.p).size() == 1);
}

TEST_CASE("destinationsMeet") {
  Builder b = school();
  b.dest("mail", {{"*"}, {}, {{587, 587}}, {}});
  b.dest("posts", {{"*"}, {}, {}, {"POST"}});
  b.dest("gets", {{"*"}, {}, {}, {"GET"}});
  auto d = [&](const char* n) -> const DestinationSet& {
    for (const auto& x : b.p.destinations) {
      if (x.name == n) return x;
    }
    FAIL(n);
    return b.p.destinations[0];
  };
  CHECK(destinationsMeet(d("web"), d("blocked")));
  CHECK_FALSE(destinationsMeet(d("web"), d("mail")));          // ports apart
  CHECK_FALSE(destinationsMeet(d("posts"), d("gets")));        // methods apart
  CHECK_FALSE(destinationsMeet(d("blocked"), d("intranet")));  // names apart
  CHECK(destinationsMeet(d("intranet"), d("intranet")));
}
