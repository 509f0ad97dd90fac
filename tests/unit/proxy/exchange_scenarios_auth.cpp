// Scenarios for proxy authentication: a login the LDAP backend cannot check
// (nothing listens where [auth.ldap] uri points) is a 503 auth_unavailable,
// answered through the verifier pool and the worker's mailbox.

#include "tests/unit/proxy/exchange_scenarios_util.h"

namespace portcullis::testing {

using T = proxy::Termination;

namespace {

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
      {"auth: the LDAP server cannot be reached",
       T::kAuthUnavailable,
       503,
       {"exchange:Admission", "exchange:Done"},
       ldapUnreachable},
  };
}

}  // namespace portcullis::testing
