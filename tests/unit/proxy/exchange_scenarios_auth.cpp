// Scenarios for proxy authentication: a request only a login would allow is
// a 407 auth_required; a login the LDAP backend cannot check (nothing listens
// where [auth.ldap] uri points) is a 503 auth_unavailable, answered through
// the verifier pool and the worker's mailbox.

#include <filesystem>
#include <fstream>

#include "tests/unit/proxy/exchange_scenarios_util.h"

namespace portcullis::testing {

using T = proxy::Termination;

namespace {

ScenarioResult loginRequired() {
  // staff.test is allowed only to alice: without credentials, 407.
  const auto dir = std::filesystem::temp_directory_path() / "portcullis-scenario-auth";
  std::filesystem::create_directories(dir);
  const auto users = dir / "users";
  std::ofstream(users) << "alice:$2y$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui\n";
  HarnessOptions o;
  o.plaintextAuth = true;
  o.extra = "[destinations.staff]\nhosts = [\"staff.test\"]\n[auth]\nusers_file = \"" +
            users.string() +
            "\"\n[[rule]]\nname = \"alice-to-staff\"\n"
            "allow = { from = \"local\", to = \"staff\", users = [\"alice\"] }\n";
  ExchangeHarness h(o);
  return oneRequest(h, "GET http://staff.test/ HTTP/1.1\r\nHost: staff.test\r\n\r\n");
}

ScenarioResult ldapUnreachable() {
  HarnessOptions o;
  o.plaintextAuth = true;
  // Port 1 on loopback: connection refused at once.
  o.extra =
      "[auth]\n[auth.ldap]\nuri = \"ldap://127.0.0.1:1\"\n"
      "user_dn = \"uid={user},dc=school,dc=example\"\ntimeout = \"2s\"\n";
  ExchangeHarness h(o);
  // alice:secret (RFC 7617 §2)
  return oneRequest(h, h.get("/a", "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n"));
}

}  // namespace

std::vector<Scenario> authScenarios() {
  return {
      {"auth: a destination only a login opens",
       T::kAuthRequired,
       407,
       {"exchange:Admission", "exchange:Done"},
       loginRequired},
      {"auth: the LDAP server cannot be reached",
       T::kAuthUnavailable,
       503,
       {"exchange:Admission", "exchange:Done"},
       ldapUnreachable},
  };
}

}  // namespace portcullis::testing
