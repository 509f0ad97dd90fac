// The access-log fields a log-mode rule and the checked addresses add: only
// when set, so lines without them keep their old shape.
#include <doctest/doctest.h>

#include "daemon/log/access_record.h"

using namespace portcullis::log;

TEST_CASE("would_deny / would_allow and addresses appear only when set") {
  AccessRecord r;
  r.client = "10.0.0.7:51000";
  r.method = "GET";
  r.url = "http://example.com/";
  r.rule = "web";
  std::string plain = formatJson(r);
  CHECK(plain.find("would_") == std::string::npos);
  CHECK(plain.find("addresses") == std::string::npos);
  r.wouldVerdict = "deny";
  r.wouldRule = "try-games";
  r.addresses = "192.0.2.1,2001:db8::1";
  std::string line = formatJson(r);
  CHECK(line.find(R"("rule_where":null,"would_deny":"try-games","addresses":["192.0.2.1",)"
                  R"("2001:db8::1"],"duration_ms")") != std::string::npos);
  r.wouldVerdict = "allow";
  r.addresses = "192.0.2.1";
  line = formatJson(r);
  CHECK(line.find(R"("would_allow":"try-games","addresses":["192.0.2.1"])") != std::string::npos);
}
