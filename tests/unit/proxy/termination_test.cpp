#include "daemon/proxy/termination.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "daemon/proxy/error_page.h"

using portcullis::proxy::describe;
using portcullis::proxy::errorReply;
using portcullis::proxy::kTerminationKinds;
using portcullis::proxy::Termination;

TEST_CASE("termination table: one distinct name per kind, replies only with a status") {
  std::set<std::string> names;
  for (size_t i = 0; i < kTerminationKinds; ++i) {
    const auto kind = static_cast<Termination>(i);
    const auto& row = describe(kind);
    CAPTURE(row.name);
    CHECK(!row.name.empty());
    CHECK(names.insert(std::string(row.name)).second);
    // A kind either answers (a 4xx/5xx with a title) or ends without a reply.
    if (row.status != 0) {
      CHECK(row.status >= 400);
      CHECK(row.status < 600);
      CHECK(!row.title.empty());
    } else {
      CHECK(row.proxyStatus.empty());
    }
  }
}

TEST_CASE("termination table: what each kind tells the client") {
  struct Case {
    Termination kind;
    std::string name;
    int status;
    std::string proxyStatus;
  };
  const Case cases[] = {
      {Termination::kCompleted, "completed", 0, ""},
      {Termination::kDeniedByRule, "denied_by_rule", 403, "http_request_denied"},
      {Termination::kAuthRequired, "auth_required", 407, "http_request_denied"},
      {Termination::kDestinationProhibited, "destination_prohibited", 403,
       "destination_ip_prohibited"},
      {Termination::kRateLimited, "rate_limited", 429, "http_request_denied"},
      {Termination::kBadRequest, "bad_request", 400, "http_request_error"},
      {Termination::kForwardingLoop, "forwarding_loop", 508, "proxy_loop_detected"},
      {Termination::kClientTimeout, "client_timeout", 408, "http_request_error"},
      {Termination::kDnsError, "dns_error", 502, "dns_error"},
      {Termination::kDnsTimeout, "dns_timeout", 504, "dns_timeout"},
      {Termination::kConnectRefused, "connect_refused", 502, "connection_refused"},
      {Termination::kConnectTimeout, "connect_timeout", 504, "connection_timeout"},
      {Termination::kOriginTimeout, "origin_timeout", 504, "connection_read_timeout"},
      {Termination::kOriginClosed, "origin_closed", 502, "connection_terminated"},
      {Termination::kBadOriginResponse, "bad_origin_response", 502, "http_protocol_error"},
      {Termination::kNotInCache, "not_in_cache", 504, "http_request_error"},
      {Termination::kPreconditionFailed, "precondition_failed", 412, ""},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) {
      CHECK(describe(c.kind).name == c.name);
      CHECK(describe(c.kind).status == c.status);
      CHECK(describe(c.kind).proxyStatus == c.proxyStatus);
      if (c.status != 0) {
        auto reply = errorReply(c.kind, "message", "detail");
        CHECK(reply.termination == c.kind);
        CHECK(reply.status == c.status);
        CHECK(reply.proxyStatusError == c.proxyStatus);
        CHECK(reply.message == "message");
        CHECK(reply.detail == "detail");
      }
    }
  }
}

TEST_CASE("errorReply: a bad request keeps its own status and title") {
  CHECK(errorReply(Termination::kBadRequest, "m", "d", 431).status == 431);
  CHECK(errorReply(Termination::kBadRequest, "m", "d", 431).title ==
        "Request header fields too large");
  CHECK(errorReply(Termination::kBadRequest, "m", "d", 414).title == "Request line too long");
  CHECK(errorReply(Termination::kBadRequest, "m").title == "Bad request");
}
