#include <doctest/doctest.h>

#include <memory>

#include "acl/policy.h"
#include "acl/policy_impl.h"
#include "acl/rule_analysis.h"
#include "acl/special_ranges.h"

using namespace portcullis::acl;

namespace {
IpAddress ip(const char* s) { return *IpAddress::parse(s); }

struct DestSpec {
  std::vector<const char*> hosts;
  std::vector<const char*> cidrs;
  std::vector<PortRange> ports;
  std::vector<std::string> methods;
  std::vector<std::string> schemes;
};

// Builds a PolicyImpl by hand, as the config loader would.
struct Builder {
  PolicyImpl p;
  size_t source(const char* name, std::vector<const char*> cidrs) {
    SourceSet s;
    s.name = name;
    for (const char* c : cidrs) s.cidrs.add(*parseCidr(c).cidr);
    s.cidrs.finalize();
    p.sources.push_back(std::move(s));
    return p.sources.size() - 1;
  }
  size_t dest(const char* name, const DestSpec& spec) {
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
    d.schemes = spec.schemes;
    p.destinations.push_back(std::move(d));
    return p.destinations.size() - 1;
  }
  void rule(const char* name, Verdict v, std::vector<size_t> from, std::vector<size_t> to) {
    Rule r;
    r.name = name;
    r.where = SourceLocation{"test.toml", static_cast<int>(p.rules.size() + 1) * 10, 1};
    r.verdict = v;
    r.from = std::move(from);
    r.to = std::move(to);
    p.rules.push_back(std::move(r));
  }
  Policy build() { return Policy(std::make_shared<const PolicyImpl>(p)); }
};

struct Req {
  const char* client = "10.20.1.1";
  const char* host = "www.example.org";
  uint16_t port = 80;
  const char* method = "GET";
  bool connect = false;
  std::vector<const char*> addrs;
};

Decision ask(const Policy& policy, const Req& r) {
  std::vector<IpAddress> addrs;
  for (const char* a : r.addrs) addrs.push_back(ip(a));
  RequestFacts f;
  f.client = ip(r.client);
  f.method = r.method;
  f.scheme = r.connect ? "" : "http";
  f.host = r.host;
  f.port = r.port;
  f.isConnect = r.connect;
  f.addresses = addrs;
  return policy.evaluate(f);
}

// A school-like policy: blocklist first, then classrooms to the web.
Builder school() {
  Builder b;
  size_t rooms = b.source("classrooms", {"10.20.0.0/16", "2001:db8:20::/48"});
  size_t staff = b.source("staff", {"10.30.0.0/16"});
  size_t blocked = b.dest("blocked", {{"*.games.test", "casino.test"}, {}, {}, {}, {}});
  size_t web = b.dest("web", {{"*"}, {}, {{80, 80}, {443, 443}}, {}, {}});
  size_t intranet = b.dest("intranet", {{}, {"10.99.0.0/16"}, {{80, 80}}, {}, {}});
  b.rule("block-games", Verdict::kDeny, {}, {blocked});
  b.rule("rooms-web", Verdict::kAllow, {rooms}, {web});
  b.rule("staff-intranet", Verdict::kAllow, {staff}, {intranet});
  b.rule("staff-web", Verdict::kAllow, {staff}, {web});
  return b;
}
}  // namespace

TEST_CASE("first match wins; nothing matched is denied") {
  Policy p = school().build();
  struct Case { Req req; bool allowed; const char* rule; };
  const Case cases[] = {
      {{.host = "www.example.org", .addrs = {"93.184.216.34"}}, true, "rooms-web"},
      {{.host = "www.games.test", .addrs = {"93.184.216.34"}}, false, "block-games"},
      {{.host = "casino.test"}, false, "block-games"},             // before DNS, by name
      {{.client = "10.21.0.1", .addrs = {"93.184.216.34"}}, false, "default-deny"},
      {{.client = "2001:db8:20::5", .addrs = {"2606:2800::1"}}, true, "rooms-web"},
      {{.client = "::ffff:10.20.3.3", .addrs = {"93.184.216.34"}}, true, "rooms-web"},
      {{.port = 8080, .addrs = {"93.184.216.34"}}, false, "default-deny"},
      {{.client = "10.30.0.9", .host = "wiki.school", .addrs = {"10.99.1.1"}}, true, "staff-intranet"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.req.host);
    CAPTURE(c.req.client);
    Decision d = ask(p, c.req);
    CHECK(d.allowed() == c.allowed);
    CHECK(d.rule == c.rule);
  }
}

TEST_CASE("decisions carry the rule name and file:line") {
  Policy p = school().build();
  Decision d = ask(p, {.host = "x.games.test"});
  CHECK(d.where.toString() == "test.toml:10");
  CHECK(d.reason.find("block-games") != std::string::npos);
  Decision none = ask(p, {.client = "192.0.2.1", .addrs = {"93.184.216.34"}});
  CHECK(none.where.file.empty());
  CHECK(none.where.toString() == "built-in");
}

TEST_CASE("hard rule: port 25 whatever the rules") {
  Builder b;
  size_t all = b.source("all", {"10.0.0.0/8"});
  size_t smtp = b.dest("smtp", {{"*"}, {}, {{1, 65535}}, {}, {}});
  b.rule("open", Verdict::kAllow, {all}, {smtp});
  Policy p = b.build();
  for (bool connect : {false, true}) {
    CAPTURE(connect);
    Decision d = ask(p, {.client = "10.0.0.1", .host = "mx.test", .port = 25,
                         .method = connect ? "CONNECT" : "GET", .connect = connect,
                         .addrs = {"93.184.216.34"}});
    CHECK_FALSE(d.allowed());
    CHECK(d.rule == "hard:port-25");
  }
  CHECK(ask(p, {.client = "10.0.0.1", .port = 587, .addrs = {"93.184.216.34"}}).allowed());
}

TEST_CASE("hard rule: CONNECT only to named ports, 443 when none named") {
  Builder b;
  size_t lan = b.source("lan", {"10.0.0.0/8"});
  size_t any = b.dest("any", {{"*"}, {}, {}, {}, {}});
  size_t ssh = b.dest("ssh", {{"git.test"}, {}, {{22, 22}}, {}, {}});
  b.rule("lan-any", Verdict::kAllow, {lan}, {any});
  b.rule("lan-ssh", Verdict::kAllow, {lan}, {ssh});
  Policy p = b.build();
  struct Case { const char* host; uint16_t port; bool connect; bool allowed; const char* rule; };
  const Case cases[] = {
      {"a.test", 443, true, true, "lan-any"},
      {"a.test", 8443, true, false, "hard:connect-port"},
      {"a.test", 8443, false, true, "lan-any"},  // absolute-form: any port
      {"git.test", 22, true, true, "lan-ssh"},
      {"other.test", 22, true, false, "hard:connect-port"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.host);
    CAPTURE(c.port);
    Decision d = ask(p, {.client = "10.0.0.1", .host = c.host, .port = c.port,
                         .method = c.connect ? "CONNECT" : "GET", .connect = c.connect,
                         .addrs = {"93.184.216.34"}});
    CHECK(d.allowed() == c.allowed);
    CHECK(d.rule == c.rule);
  }
}

TEST_CASE("hard rule: special addresses refused after DNS unless named explicitly") {
  Builder b;
  size_t lan = b.source("lan", {"10.0.0.0/8"});
  size_t web = b.dest("web", {{"*"}, {"0.0.0.0/0", "::/0"}, {}, {}, {}});
  size_t intranet = b.dest("intranet", {{}, {"192.168.5.0/24"}, {}, {}, {}});
  b.rule("lan-web", Verdict::kAllow, {lan}, {web});
  b.rule("lan-intranet", Verdict::kAllow, {lan}, {intranet});
  Policy p = b.build();
  struct Case { const char* addr; bool allowed; const char* rule; };
  const Case cases[] = {
      {"93.184.216.34", true, "lan-web"},
      {"127.0.0.1", false, "hard:special-address"},
      {"169.254.169.254", false, "hard:special-address"},
      {"10.1.1.1", false, "hard:special-address"},
      {"172.16.0.1", false, "hard:special-address"},
      {"192.168.1.1", false, "hard:special-address"},
      {"100.64.0.1", false, "hard:special-address"},
      {"0.0.0.0", false, "hard:special-address"},
      {"224.0.0.1", false, "hard:special-address"},
      {"240.0.0.1", false, "hard:special-address"},
      {"255.255.255.255", false, "hard:special-address"},
      {"::1", false, "hard:special-address"},
      {"::", false, "hard:special-address"},
      {"fc00::1", false, "hard:special-address"},
      {"fe80::1", false, "hard:special-address"},
      {"ff02::1", false, "hard:special-address"},
      {"::ffff:127.0.0.1", false, "hard:special-address"},
      {"::ffff:169.254.169.254", false, "hard:special-address"},
      {"64:ff9b::a00:1", false, "hard:special-address"},  // NAT64 of 10.0.0.1
      {"2002:7f00:1::", false, "hard:special-address"},  // 6to4 of 127.0.0.1
      {"2606:2800::1", true, "lan-web"},
      {"192.168.5.20", true, "lan-intranet"},  // a later rule names it
  };
  for (const Case& c : cases) {
    CAPTURE(c.addr);
    Decision d = ask(p, {.client = "10.0.0.1", .host = "name.test", .addrs = {c.addr}});
    CHECK(d.allowed() == c.allowed);
    CHECK(d.rule == c.rule);
  }
  SUBCASE("an IP literal host is checked like a resolved address") {
    Decision d = ask(p, {.client = "10.0.0.1", .host = "169.254.169.254"});
    CHECK(d.rule == "hard:special-address");
    CHECK(ask(p, {.client = "10.0.0.1", .host = "[::1]"}).rule == "hard:special-address");
  }
  SUBCASE("every address must pass") {
    Decision d = ask(p, {.client = "10.0.0.1", .host = "dual.test",
                         .addrs = {"93.184.216.34", "127.0.0.1"}});
    CHECK_FALSE(d.allowed());
    CHECK(d.rule == "hard:special-address");
    CHECK(d.reason.find("127.0.0.1") != std::string::npos);
  }
}

TEST_CASE("hard rule: a special range opens only through the set that matches the whole request") {
  // Issue #12, finding 3: one set of a rule opened the special range, another
  // set of the same rule matched the request (port, method) it lacked.
  Builder b;
  size_t staff = b.source("staff", {"10.30.0.0/16"});
  size_t web = b.dest("web", {{"*"}, {}, {{80, 80}, {443, 443}, {19111, 19111}}, {}, {}});
  size_t intranet = b.dest("intranet", {{}, {"127.0.0.2/32"}, {{19110, 19110}}, {"GET"}, {}});
  size_t webAny = b.dest("web-any-port", {{"*"}, {}, {}, {}, {}});
  size_t printer = b.dest("printer", {{}, {"10.99.0.5/32"}, {{80, 80}}, {"GET", "HEAD"}, {}});
  size_t lab = b.dest("lab", {{}, {"10.50.0.0/16"}, {{8080, 8080}}, {}, {"http"}});
  b.rule("staff-web-intranet", Verdict::kAllow, {staff}, {web, intranet});
  size_t rooms = b.source("classrooms", {"10.20.0.0/16"});
  b.rule("school", Verdict::kAllow, {rooms}, {webAny, printer, lab});
  Policy p = b.build();
  struct Case {
    const char* client;
    const char* host;
    uint16_t port;
    const char* method;
    bool connect;
    const char* addr;
    bool allowed;
    const char* rule;
  };
  const Case cases[] = {
      // The repro: port 19111 is web's, 127.0.0.2 is opened by intranet for 19110/GET only.
      {"10.30.0.1", "127.0.0.2", 19111, "GET", false, nullptr, false, "hard:special-address"},
      {"10.30.0.1", "127.0.0.2", 19111, "CONNECT", true, nullptr, false, "hard:special-address"},
      {"10.30.0.1", "127.0.0.2", 19110, "GET", false, nullptr, true, "staff-web-intranet"},
      {"10.30.0.1", "127.0.0.2", 19110, "DELETE", false, nullptr, false, "default-deny"},
      {"10.30.0.1", "www.example.org", 19111, "GET", false, "93.184.216.34", true,
       "staff-web-intranet"},
      // A name resolving into the opened address: still only intranet's port and method.
      {"10.30.0.1", "evil.test", 19111, "GET", false, "127.0.0.2", false, "hard:special-address"},
      {"10.30.0.1", "evil.test", 19110, "GET", false, "127.0.0.2", true, "staff-web-intranet"},
      // The school form: web has no port list, the printer is GET/HEAD on 80.
      {"10.20.0.1", "10.99.0.5", 8080, "POST", false, nullptr, false, "hard:special-address"},
      {"10.20.0.1", "10.99.0.5", 443, "CONNECT", true, nullptr, false, "hard:special-address"},
      {"10.20.0.1", "10.99.0.5", 80, "POST", false, nullptr, false, "hard:special-address"},
      {"10.20.0.1", "10.99.0.5", 80, "GET", false, nullptr, true, "school"},
      {"10.20.0.1", "10.99.0.5", 80, "HEAD", false, nullptr, true, "school"},
      // Scheme is part of the request too: lab is http-only.
      {"10.20.0.1", "10.50.1.1", 8080, "GET", false, nullptr, true, "school"},
      {"10.20.0.1", "10.50.1.1", 443, "CONNECT", true, nullptr, false, "hard:special-address"},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.host));
    CAPTURE(c.port);
    CAPTURE(std::string(c.method));
    Req r{.client = c.client,
          .host = c.host,
          .port = c.port,
          .method = c.method,
          .connect = c.connect};
    if (c.addr != nullptr) r.addrs = {c.addr};
    Decision d = ask(p, r);
    CHECK(d.allowed() == c.allowed);
    CHECK(d.rule == c.rule);
  }
}

TEST_CASE("hard rule: an embedded special IPv4 is opened only by naming the IPv4 block") {
  Builder b;
  size_t lan = b.source("lan", {"10.0.0.0/8"});
  size_t nat64 = b.dest("nat64-and-loopback", {{"*"}, {"64:ff9b::/96", "127.0.0.0/8"}, {}, {}, {}});
  b.rule("lan-nat64", Verdict::kAllow, {lan}, {nat64});
  Policy p = b.build();
  // A public IPv4 behind the NAT64 prefix is an ordinary address.
  CHECK(ask(p, {.client = "10.0.0.1", .host = "v4only.test", .addrs = {"64:ff9b::5db8:d822"}})
            .allowed());
  // The loopback behind it is special; the set names 127.0.0.0/8, so it opens it.
  CHECK(ask(p, {.client = "10.0.0.1", .host = "lo.test", .addrs = {"64:ff9b::7f00:1"}}).allowed());
  // The link-local behind it is not named: refused, and the reason says what it carries.
  Decision d = ask(p, {.client = "10.0.0.1", .host = "md.test", .addrs = {"64:ff9b::a9fe:a9fe"}});
  CHECK(d.rule == "hard:special-address");
  CHECK(d.reason.find("169.254.169.254") != std::string::npos);
}

TEST_CASE("hard rule: our own listen address is never a destination") {
  Builder b;
  size_t lan = b.source("lan", {"10.0.0.0/8"});
  size_t self = b.dest("self", {{}, {"10.0.0.0/8"}, {}, {}, {}});
  b.rule("lan-self", Verdict::kAllow, {lan}, {self});
  Policy p = b.build();
  p.setSelfAddresses(SelfAddresses({{ip("10.0.0.2"), 3128}}, {}));
  CHECK(ask(p, {.client = "10.0.0.1", .host = "10.0.0.2", .port = 3128}).rule == "hard:self");
  CHECK(ask(p, {.client = "10.0.0.1", .host = "10.0.0.2", .port = 80}).allowed());
  // The unspecified address reaches the local host.
  CHECK(ask(p, {.client = "10.0.0.1", .host = "0.0.0.0", .port = 3128}).rule == "hard:self");

  SUBCASE("a wildcard listen makes every local address self, even where a set opens it") {
    Builder w;
    size_t lan2 = w.source("lan", {"10.0.0.0/8"});
    size_t local =
        w.dest("local", {{}, {"127.0.0.0/8", "0.0.0.0/8", "::1/128", "10.0.0.0/8"}, {}, {}, {}});
    w.rule("lan-local", Verdict::kAllow, {lan2}, {local});
    Policy wp = w.build();
    wp.setSelfAddresses(SelfAddresses({{ip("0.0.0.0"), 3128}, {ip("0.0.0.0"), 9090}},
                                      {ip("10.0.0.7"), ip("fe80::1")}));
    for (const char* host :
         {"127.0.0.1", "127.9.9.9", "0.0.0.0", "[::1]", "10.0.0.7", "::ffff:127.0.0.1"}) {
      for (uint16_t port : {3128, 9090}) {
        CAPTURE(host);
        CAPTURE(port);
        Decision d = ask(wp, {.client = "10.0.0.1", .host = host, .port = port});
        CHECK(d.rule == "hard:self");
        if (std::string_view(host) != "0.0.0.0") {
          CHECK(d.reason.find("every local address") != std::string::npos);
        }
        CHECK(ask(wp, {.client = "10.0.0.1",
                       .host = host,
                       .port = port,
                       .method = "CONNECT",
                       .connect = true})
                  .rule == "hard:self");
      }
    }
    // Other ports and other hosts of the network stay what the rules say.
    CHECK(ask(wp, {.client = "10.0.0.1", .host = "127.0.0.1", .port = 8080}).allowed());
    CHECK(ask(wp, {.client = "10.0.0.1", .host = "10.0.0.8", .port = 3128}).allowed());
  }
}

TEST_CASE("before DNS: refuse only what every outcome refuses") {
  Builder b;
  size_t lan = b.source("lan", {"10.0.0.0/8"});
  size_t badNet = b.dest("bad-net", {{}, {"198.51.100.0/24"}, {}, {}, {}});
  size_t pub = b.dest("public-net", {{}, {"203.0.113.0/24"}, {}, {}, {}});
  size_t byName = b.dest("by-name", {{"blocked.test"}, {}, {}, {}, {}});
  b.rule("deny-bad-net", Verdict::kDeny, {}, {badNet});
  b.rule("allow-public", Verdict::kAllow, {lan}, {pub});
  b.rule("deny-name", Verdict::kDeny, {}, {byName});
  Policy p = b.build();
  // Depends on the addresses: not refused yet.
  Decision d = ask(p, {.client = "10.0.0.1", .host = "blocked.test"});
  CHECK(d.allowed());
  CHECK(d.rule == "allow-public");
  // After DNS it is decided.
  CHECK(ask(p, {.client = "10.0.0.1", .host = "blocked.test", .addrs = {"198.51.100.1"}}).rule ==
        "deny-bad-net");
  CHECK(ask(p, {.client = "10.0.0.1", .host = "blocked.test", .addrs = {"203.0.113.1"}}).rule ==
        "allow-public");
  CHECK(ask(p, {.client = "10.0.0.1", .host = "blocked.test", .addrs = {"192.0.2.1"}}).rule ==
        "deny-name");
  // A client no allow rule covers is refused before DNS.
  CHECK(ask(p, {.client = "192.0.2.9", .host = "x.test"}).rule == "default-deny");
}

TEST_CASE("methods and schemes") {
  Builder b;
  size_t lan = b.source("lan", {"10.0.0.0/8"});
  size_t ro = b.dest("read-only", {{"*"}, {}, {}, {"GET", "HEAD"}, {"http"}});
  b.rule("ro", Verdict::kAllow, {lan}, {ro});
  Policy p = b.build();
  CHECK(ask(p, {.client = "10.0.0.1", .method = "GET", .addrs = {"93.184.216.34"}}).allowed());
  CHECK_FALSE(ask(p, {.client = "10.0.0.1", .method = "POST", .addrs = {"93.184.216.34"}}).allowed());
  CHECK_FALSE(ask(p, {.client = "10.0.0.1", .method = "get", .addrs = {"93.184.216.34"}}).allowed());
  CHECK_FALSE(ask(p, {.client = "10.0.0.1", .port = 443, .method = "CONNECT", .connect = true,
                      .addrs = {"93.184.216.34"}}).allowed());
}

TEST_CASE("host names: case and trailing dot cannot dodge a deny") {
  Policy p = school().build();
  for (const char* h : {"WWW.GAMES.TEST", "www.games.test.", "Casino.Test."}) {
    CAPTURE(h);
    CHECK(ask(p, {.host = h, .addrs = {"93.184.216.34"}}).rule == "block-games");
  }
}

TEST_CASE("evaluateSource refuses clients no allow rule names") {
  Builder b = school();
  size_t banned = b.source("banned", {"10.20.9.0/24"});
  b.p.rules.insert(b.p.rules.begin(), Rule{"ban", {"t.toml", 1, 1}, Verdict::kDeny, {banned}, {}});
  Policy p = b.build();
  CHECK(p.evaluateSource(ip("10.20.1.1")).allowed());
  CHECK(p.evaluateSource(ip("10.30.1.1")).allowed());
  CHECK(p.evaluateSource(ip("10.20.9.1")).rule == "ban");
  CHECK(p.evaluateSource(ip("192.0.2.1")).rule == "default-deny");
}

TEST_CASE("findShadowedRules") {
  Builder b = school();
  size_t rooms = 0, web = 1, blocked = 0;
  b.rule("dup-web", Verdict::kAllow, {rooms}, {web});          // same as rooms-web
  b.rule("late-block", Verdict::kDeny, {rooms}, {blocked});     // covered by block-games
  size_t sub = b.source("room-5", {"10.20.5.0/24"});
  b.rule("room5-web", Verdict::kDeny, {sub}, {web});            // rooms-web covers it
  size_t intranet = 2;
  b.rule("rooms-intranet", Verdict::kAllow, {rooms}, {intranet});  // not covered
  auto shadows = findShadowedRules(b.p);
  REQUIRE(shadows.size() == 3);
  CHECK(b.p.rules[shadows[0].rule].name == "dup-web");
  CHECK(b.p.rules[shadows[0].by].name == "rooms-web");
  CHECK(b.p.rules[shadows[1].rule].name == "late-block");
  CHECK(b.p.rules[shadows[1].by].name == "block-games");
  CHECK(b.p.rules[shadows[2].rule].name == "room5-web");
}

TEST_CASE("before DNS: an allow that the addresses could still turn says so") {
  Policy p = school().build();
  // rooms-web matches by name and nothing on the way depends on addresses.
  Decision plain = ask(p, {.host = "www.example.org"});
  CHECK(plain.allowed());
  CHECK_FALSE(plain.addressesDecide);
  // staff: staff-intranet (CIDRs) matches "maybe" before staff-web allows.
  Decision staff = ask(p, {.client = "10.30.0.9", .host = "wiki.school"});
  CHECK(staff.allowed());
  CHECK(staff.addressesDecide);
  // After DNS the answer is final.
  Decision after = ask(p, {.client = "10.30.0.9", .host = "wiki.school", .addrs = {"10.99.1.1"}});
  CHECK_FALSE(after.addressesDecide);
}

TEST_CASE("destinationMatches: a set by name, port, method and scheme, before DNS") {
  Builder b = school();
  Policy p = b.build();
  auto facts = [](const char* host, uint16_t port) {
    RequestFacts f;
    f.client = ip("10.20.1.1");
    f.method = "GET";
    f.scheme = "http";
    f.host = host;
    f.port = port;
    return f;
  };
  CHECK(p.destinationMatches(1, facts("www.example.org", 80)));        // web
  CHECK_FALSE(p.destinationMatches(1, facts("www.example.org", 81)));  // port
  CHECK(p.destinationMatches(0, facts("x.games.test", 80)));           // blocked
  CHECK_FALSE(p.destinationMatches(0, facts("example.org", 80)));
  // A CIDR-only set: a name is only "maybe" (false); an IP literal decides.
  CHECK_FALSE(p.destinationMatches(2, facts("wiki.school", 80)));
  CHECK(p.destinationMatches(2, facts("10.99.0.5", 80)));
  CHECK_FALSE(p.destinationMatches(7, facts("www.example.org", 80)));  // no such set
}
