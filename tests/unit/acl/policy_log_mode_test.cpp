// mode = "log": a rule that is evaluated and reported (Decision::would) but
// never decides; evaluation continues with the next rule.
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

struct Builder {
  PolicyImpl p;
  Builder() {
    SourceSet s;
    s.name = "lan";
    s.cidrs.add(*parseCidr("10.0.0.0/8").cidr);
    s.cidrs.finalize();
    p.sources.push_back(std::move(s));
    std::string err;
    DestinationSet web;
    web.name = "web";
    web.hosts.add(*parseHostPattern("*", false, err));
    web.ports = {{80, 80}, {443, 443}};
    p.destinations.push_back(std::move(web));
    DestinationSet games;
    games.name = "games";
    games.hosts.add(*parseHostPattern("*.games.example", false, err));
    games.cidrs.add(*parseCidr("151.101.0.0/16").cidr);
    games.cidrs.finalize();
    p.destinations.push_back(std::move(games));
  }
  Builder& rule(const char* name, Verdict v, std::vector<size_t> to, bool logOnly,
                std::vector<std::string> users = {}) {
    Rule r;
    r.name = name;
    r.where = SourceLocation{"t.toml", static_cast<int>(p.rules.size() + 1), 1};
    r.verdict = v;
    r.from = {0};
    r.to = std::move(to);
    r.logOnly = logOnly;
    r.users = std::move(users);
    p.rules.push_back(std::move(r));
    return *this;
  }
  Policy build() { return Policy(std::make_shared<const PolicyImpl>(std::move(p))); }
};

RequestFacts get(const char* host, std::span<const IpAddress> addresses = {}) {
  RequestFacts f;
  f.client = ip("10.1.2.3");
  f.method = "GET";
  f.scheme = "http";
  f.host = host;
  f.port = 80;
  f.addresses = addresses;
  return f;
}

}  // namespace

TEST_CASE("a log-mode deny that matches is reported and the next rule decides") {
  Policy policy = Builder()
                      .rule("try-games", Verdict::kDeny, {1}, true)
                      .rule("web", Verdict::kAllow, {0}, false)
                      .build();
  const IpAddress a = ip("93.184.216.34");
  SUBCASE("by name, after DNS") {
    Decision d = policy.evaluate(get("www.games.example", std::span(&a, 1)));
    CHECK(d.allowed());
    CHECK(d.rule == "web");
    REQUIRE(d.would);
    CHECK(d.would->verdict == Verdict::kDeny);
    CHECK(d.would->rule == "try-games");
    CHECK(d.would->where.line == 1);
  }
  SUBCASE("by name, before DNS") {
    Decision d = policy.evaluate(get("www.games.example"));
    CHECK(d.allowed());
    REQUIRE(d.would);
    CHECK(d.would->rule == "try-games");
  }
  SUBCASE("by address: only after DNS") {
    const IpAddress g = ip("151.101.4.9");
    CHECK_FALSE(policy.evaluate(get("other.example")).would);
    Decision d = policy.evaluate(get("other.example", std::span(&g, 1)));
    CHECK(d.allowed());
    REQUIRE(d.would);
    CHECK(d.would->rule == "try-games");
  }
  SUBCASE("no match, nothing reported") {
    Decision d = policy.evaluate(get("news.example", std::span(&a, 1)));
    CHECK(d.allowed());
    CHECK_FALSE(d.would);
  }
}

TEST_CASE("a log-mode allow never allows; it is reported beside the deny") {
  Policy policy = Builder().rule("try-web", Verdict::kAllow, {0}, true, {"alice"}).build();
  const IpAddress a = ip("93.184.216.34");
  RequestFacts f = get("news.example", std::span(&a, 1));
  f.user = "alice";
  Decision d = policy.evaluate(f);
  CHECK_FALSE(d.allowed());
  CHECK(d.rule == "default-deny");
  REQUIRE(d.would);
  CHECK(d.would->verdict == Verdict::kAllow);
  // Anonymous: a log-mode rule for users does not ask for a login.
  Decision anon = policy.evaluate(get("news.example", std::span(&a, 1)));
  CHECK_FALSE(anon.loginWouldHelp);
  CHECK_FALSE(anon.would);
}

TEST_CASE("only the first log-mode match is reported, and none after the deciding rule") {
  Policy policy = Builder()
                      .rule("first", Verdict::kDeny, {0}, true)
                      .rule("second", Verdict::kAllow, {0}, true)
                      .rule("web", Verdict::kAllow, {0}, false)
                      .rule("after", Verdict::kDeny, {0}, true)
                      .build();
  Decision d = policy.evaluate(get("news.example"));
  CHECK(d.rule == "web");
  REQUIRE(d.would);
  CHECK(d.would->rule == "first");
}

TEST_CASE("a log-mode rule neither refuses a connection nor shadows later rules") {
  Builder b;
  b.rule("try-all", Verdict::kDeny, {}, true).rule("web", Verdict::kAllow, {0}, false);
  b.p.rules[0].to.clear();  // from = "lan" alone: would refuse at accept if enforced
  Policy policy = b.build();
  CHECK(policy.evaluateSource(ip("10.1.2.3")).allowed());
  CHECK(findShadowedRules(policy.impl()).empty());
}
