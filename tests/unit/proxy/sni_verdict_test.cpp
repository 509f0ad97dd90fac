#include "daemon/proxy/sni_verdict.h"

#include <doctest/doctest.h>

using namespace portcullis::proxy;
using portcullis::config::TlsChoice;
using portcullis::tls::HelloOutcome;
using portcullis::tls::HelloStatus;
using Step = SniVerdict::Step;

namespace {

HelloOutcome hello(const char* sni, bool ech = false) {
  HelloOutcome o;
  o.status = HelloStatus::kClientHello;
  o.hello.hasSni = sni[0] != '\0';
  o.hello.sni = sni;
  o.hello.echOffered = ech;
  return o;
}

HelloOutcome other(HelloStatus status) {
  HelloOutcome o;
  o.status = status;
  o.reason = "why";
  return o;
}

SniFacts facts(const char* host, uint16_t port = 443) {
  SniFacts f;
  f.connectHost = host;
  f.port = port;
  return f;
}

}  // namespace

TEST_CASE("judgeHello: the SNI against the CONNECT host and the [[sni]] choices") {
  SniFacts allowEverything = facts("www.example.org");
  allowEverything.choices.noSni = TlsChoice::kAllow;
  allowEverything.choices.notTls = TlsChoice::kAllow;
  SniFacts denyEch = facts("www.example.org");
  denyEch.choices.ech = TlsChoice::kDeny;
  struct Row {
    const char* what;
    HelloOutcome outcome;
    SniFacts facts;
    Step step;
    const char* rule;
    const char* name;
  };
  const Row rows[] = {
      {"same name", hello("www.example.org"), facts("www.example.org"), Step::kRelay, "", ""},
      {"same name, any case", hello("WWW.Example.ORG"), facts("www.example.org"), Step::kRelay, "",
       ""},
      {"another name: ask policy and DNS", hello("blocked.example"), facts("www.example.org"),
       Step::kCheckName, "", "blocked.example"},
      {"CONNECT to an IP: judged by the SNI name", hello("www.example.org"), facts("192.0.2.7"),
       Step::kCheckName, "", "www.example.org"},
      {"an IP literal as SNI", hello("192.0.2.8"), facts("www.example.org"), Step::kRefuse,
       "hard:sni-mismatch", ""},
      {"an IP literal SNI equal to the CONNECT IP", hello("192.0.2.7"), facts("192.0.2.7"),
       Step::kRelay, "", ""},
      {"no SNI, default deny", hello(""), facts("www.example.org"), Step::kRefuse, "sni:no-sni",
       ""},
      {"no SNI, allowed", hello(""), allowEverything, Step::kRelay, "", ""},
      {"ECH offered, default: outer SNI judged", hello("www.example.org", true),
       facts("www.example.org"), Step::kRelay, "", ""},
      {"ECH offered, outer SNI elsewhere", hello("public.ech.example", true),
       facts("www.example.org"), Step::kCheckName, "", "public.ech.example"},
      {"ECH offered, denied", hello("www.example.org", true), denyEch, Step::kRefuse, "sni:ech",
       ""},
      {"not TLS on 443", other(HelloStatus::kNotTls), facts("www.example.org"), Step::kRefuse,
       "sni:not-tls", ""},
      {"not TLS on 443, allowed", other(HelloStatus::kNotTls), allowEverything, Step::kRelay, "",
       ""},
      {"not TLS on another port", other(HelloStatus::kNotTls), facts("www.example.org", 8443),
       Step::kRelay, "", ""},
      {"malformed, any port", other(HelloStatus::kMalformed), facts("www.example.org", 8443),
       Step::kRefuse, "sni:malformed", ""},
      {"need more", other(HelloStatus::kNeedMore), facts("www.example.org"), Step::kWait, "", ""},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    const SniVerdict v = judgeHello(row.outcome, row.facts);
    CHECK(v.step == row.step);
    CHECK(v.rule == row.rule);
    CHECK(v.name == row.name);
  }
}

TEST_CASE("judgeTimeout and sniNameVerdict") {
  CHECK(judgeTimeout(0, facts("x.example", 443)).rule == "sni:timeout");
  CHECK(judgeTimeout(10, facts("x.example", 993)).rule == "sni:timeout");
  CHECK(judgeTimeout(0, facts("x.example", 993)).step == Step::kRelay);  // server speaks first
  CHECK(sniNameVerdict("a.example", true, "", true).step == Step::kRelay);
  const SniVerdict denied = sniNameVerdict("a.example", false, "blocklist", true);
  CHECK(denied.rule == "hard:sni-mismatch");
  CHECK(denied.detail.find("blocklist") != std::string::npos);
  const SniVerdict elsewhere = sniNameVerdict("a.example", true, "", false);
  CHECK(elsewhere.rule == "hard:sni-mismatch");
  CHECK(elsewhere.detail.find("connected address") != std::string::npos);
}
