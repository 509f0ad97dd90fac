// Access-log lines read back as request facts and logged outcomes.
#include <doctest/doctest.h>

#include "daemon/replay/flat_json.h"
#include "daemon/replay/logged_request.h"

using namespace portcullis;
using namespace portcullis::replay;

namespace {

std::string read(const std::string& line, LoggedRequest& r) {
  FlatJson j;
  if (!j.parse(line)) return "json: " + j.error();
  return readLoggedRequest(j, r);
}

const std::string kHead = R"({"ts":"2026-11-28T20:50:49.123Z","client":"10.1.2.3:51000",)";

}  // namespace

TEST_CASE("an allowed GET with the addresses the rules checked") {
  LoggedRequest r;
  REQUIRE(read(kHead + R"("user":"alice","method":"GET","url":"http://Example.org:8080/a",)"
                       R"("status":200,"decision":"allow","rule":"web","rule_where":"x:3",)"
                       R"("would_deny":"try","addresses":["192.0.2.1","2001:db8::1"],)"
                       R"("upstream":"192.0.2.1:8080"})",
               r) == "");
  CHECK(r.client.toString() == "10.1.2.3");
  CHECK(r.user == "alice");
  CHECK(r.targetOk);
  CHECK(r.host == "example.org");
  CHECK(r.port == 8080);
  CHECK(r.scheme == "http");
  CHECK_FALSE(r.isConnect);
  CHECK(r.addressSource == AddressSource::kLogged);
  REQUIRE(r.addresses.size() == 2);
  CHECK(r.addresses[1].toString() == "2001:db8::1");
  CHECK(r.loggedVerdict == acl::Verdict::kAllow);
  CHECK(r.loggedRule == "web");
  CHECK(r.loggedWould == "try");
  CHECK(r.status == 200);
  CHECK(toUnixSeconds(r.start) == 1795899049);
}

TEST_CASE("address sources: literal, upstream of an older log, none") {
  LoggedRequest r;
  REQUIRE(read(R"({"ts":"2026-11-28T20:50:49Z","client":"[2001:db8::5]:1","user":null,)"
               R"("method":"CONNECT","url":"[2001:db8::9]:443","decision":"deny",)"
               R"("rule":"default-deny","upstream":null})",
               r) == "");
  CHECK(r.client.toString() == "2001:db8::5");
  CHECK(r.isConnect);
  CHECK(r.scheme.empty());
  CHECK(r.addressSource == AddressSource::kLiteral);
  REQUIRE(read(kHead + R"("method":"GET","url":"http://a.example/","decision":"allow",)"
                       R"("rule":"web","upstream":"192.0.2.7:80"})",
               r) == "");
  CHECK(r.addressSource == AddressSource::kUpstream);
  CHECK(r.addresses.at(0).toString() == "192.0.2.7");
  REQUIRE(read(kHead + R"("method":"GET","url":"http://a.example/","decision":"deny",)"
                       R"("rule":"blocked","upstream":null})",
               r) == "");
  CHECK(r.addressSource == AddressSource::kNone);
  CHECK(r.addresses.empty());
}

TEST_CASE("lines that are no access record say why; a bad URL is a request, not a bad line") {
  LoggedRequest r;
  CHECK(read(R"({"ts":"x"})", r).find("no string 'client'") != std::string::npos);
  CHECK(read(R"({"ts":"2026-13-01T00:00:00Z","client":"1.2.3.4:5","method":"GET","url":"",)"
             R"("decision":"allow","rule":""})",
             r) == "bad 'ts'");
  CHECK(read(R"({"ts":"2026-11-28T20:50:49Z","client":"host:5","method":"GET","url":"",)"
             R"("decision":"allow","rule":""})",
             r)
            .starts_with("bad 'client'"));
  CHECK(read(R"({"ts":"2026-11-28T20:50:49Z","client":"1.2.3.4:5","method":"GET","url":"/x",)"
             R"("decision":"allow","rule":""})",
             r) == "");
  CHECK_FALSE(r.targetOk);
}
