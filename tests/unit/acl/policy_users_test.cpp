// Users and groups in rules: identity is one more input to Policy::evaluate.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "acl/policy.h"
#include "acl/policy_impl.h"
#include "acl/rule_analysis.h"

using namespace portcullis::acl;

namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

// classrooms 10.0.0.0/8; web = any host, port 80.
// 1 allow classrooms -> web for group:teachers and carol
// 2 deny  classrooms -> web for bob
// 3 allow classrooms -> web for group:pupils
Policy makePolicy() {
  PolicyImpl p;
  SourceSet s;
  s.name = "classrooms";
  s.cidrs.add(*parseCidr("10.0.0.0/8").cidr);
  s.cidrs.finalize();
  p.sources.push_back(std::move(s));
  DestinationSet d;
  d.name = "web";
  std::string err;
  d.hosts.add(*parseHostPattern("*", false, err));
  d.ports = {{80, 80}};
  p.destinations.push_back(std::move(d));
  auto rule = [&](const char* name, Verdict v, std::vector<std::string> users,
                  std::vector<std::string> groups) {
    Rule r;
    r.name = name;
    r.where = SourceLocation{"t.toml", static_cast<int>(p.rules.size() + 1), 1};
    r.verdict = v;
    r.from = {0};
    r.to = {0};
    r.users = std::move(users);
    r.groups = std::move(groups);
    p.rules.push_back(std::move(r));
  };
  rule("teachers", Verdict::kAllow, {"carol"}, {"teachers"});
  rule("not-bob", Verdict::kDeny, {"bob"}, {});
  rule("pupils", Verdict::kAllow, {}, {"pupils"});
  return Policy(std::make_shared<const PolicyImpl>(std::move(p)));
}

}  // namespace

TEST_CASE("rules with users match only those users; anonymous gets loginWouldHelp") {
  const Policy policy = makePolicy();
  struct Case {
    const char* name;
    const char* user;
    std::vector<std::string> groups;
    const char* client;
    bool allowed;
    const char* rule;
    bool loginWouldHelp;
  };
  const Case cases[] = {
      {"teacher by group", "alice", {"teachers"}, "10.1.1.1", true, "teachers", false},
      {"named user", "carol", {}, "10.1.1.1", true, "teachers", false},
      {"pupil", "dave", {"pupils"}, "10.1.1.1", true, "pupils", false},
      {"bob is denied before the pupils rule",
       "bob",
       {"pupils"},
       "10.1.1.1",
       false,
       "not-bob",
       false},
      {"someone else: default deny, no 407", "eve", {}, "10.1.1.1", false, "default-deny", false},
      {"anonymous: a login would help", "", {}, "10.1.1.1", false, "default-deny", true},
      {"anonymous from elsewhere: no rule could",
       "",
       {},
       "192.0.2.1",
       false,
       "default-deny",
       false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    RequestFacts f;
    f.client = ip(c.client);
    f.method = "GET";
    f.scheme = "http";
    f.host = "example.org";
    f.port = 80;
    f.user = c.user;
    f.groups = c.groups;
    const IpAddress addr = ip("93.184.216.34");
    for (bool afterDns : {false, true}) {
      CAPTURE(afterDns);
      if (afterDns) f.addresses = std::span<const IpAddress>(&addr, 1);
      Decision d = policy.evaluate(f);
      CHECK(d.allowed() == c.allowed);
      CHECK(d.rule == c.rule);
      CHECK(d.loginWouldHelp == c.loginWouldHelp);
    }
  }
}

TEST_CASE("a source check at accept does not refuse a client whose rules need a login") {
  const Policy policy = makePolicy();
  CHECK(policy.evaluateSource(ip("10.1.1.1")).allowed());
  CHECK_FALSE(policy.evaluateSource(ip("192.0.2.1")).allowed());
}

TEST_CASE("a rule for some users does not shadow a later rule for everyone") {
  const Policy policy = makePolicy();
  // teachers / not-bob / pupils: each names other users; none shadows another.
  CHECK(findShadowedRules(policy.impl()).empty());
}
