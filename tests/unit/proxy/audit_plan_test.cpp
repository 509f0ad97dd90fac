// portcullis audit: the probe plan (the exact bytes each probe sends). Its
// --proxy HOST:PORT is read by http::parseHostPort (tests/unit/http).

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "daemon/audit/probe_plan.h"

namespace audit = portcullis::audit;

TEST_CASE("the probe plan covers every probe the issue asks for") {
  const auto plan = audit::planProbes({40001, 40002, 40003, "127.0.0.1:3128"});
  std::set<std::string> names;
  for (const auto& p : plan) {
    names.insert(p.name);
    CAPTURE(p.name);
    // Every request is a complete head; nothing is sent without CRLF CRLF.
    CHECK(p.request.find("\r\n\r\n") != std::string::npos);
    CHECK(!p.sent.empty());
    CHECK(p.connect == (p.request.rfind("CONNECT ", 0) == 0));
  }
  CHECK(names.size() == plan.size());
  for (const char* n : {"connect-smtp-canary", "post-smtp-canary", "connect-port-25",
                        "post-port-25", "connect-http-canary", "connect-irc-canary",
                        "get-loopback-ip", "get-localhost", "get-irc-port", "get-metadata",
                        "connect-self", "host-mismatch", "http10", "lowercase-method"}) {
    CAPTURE(n);
    CHECK(names.count(n) == 1);
  }
  auto find = [&](const std::string& name) {
    for (const auto& p : plan) {
      if (p.name == name) return p;
    }
    FAIL("no probe " << name);
    return audit::ProbeSpec{};
  };
  CHECK(find("connect-smtp-canary").request ==
        "CONNECT 127.0.0.1:40001 HTTP/1.1\r\nHost: 127.0.0.1:40001\r\n\r\n");
  CHECK(find("connect-smtp-canary").canary == audit::CanaryTarget::kSmtp);
  const auto post = find("post-smtp-canary");
  CHECK(post.request.rfind("POST http://127.0.0.1:40001/ HTTP/1.1\r\n", 0) == 0);
  CHECK(post.request.find("Content-Length: " + std::to_string(audit::smtpBody().size()) + "\r\n") !=
        std::string::npos);
  CHECK(post.request.substr(post.request.size() - audit::smtpBody().size()) == audit::smtpBody());
  CHECK(audit::smtpBody().find("MAIL FROM:<") != std::string::npos);
  CHECK(find("connect-port-25").request.rfind("CONNECT 127.0.0.1:25 ", 0) == 0);
  CHECK(find("connect-port-25").kind == audit::ProbeKind::kPort25);
  CHECK(find("post-port-25").request.rfind("POST http://127.0.0.1:25/ ", 0) == 0);
  CHECK(find("get-localhost").request.rfind("GET http://localhost:40002/", 0) == 0);
  CHECK(find("get-irc-port").canary == audit::CanaryTarget::kLine);
  CHECK(find("get-metadata")
            .request.rfind("GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n", 0) == 0);
  CHECK(find("get-metadata").kind == audit::ProbeKind::kMetadata);
  CHECK(find("connect-self").request.rfind("CONNECT 127.0.0.1:3128 HTTP/1.1\r\n", 0) == 0);
  const auto mismatch = find("host-mismatch").request;
  CHECK(mismatch.rfind("GET http://127.0.0.1:40002/", 0) == 0);
  CHECK(mismatch.find("\r\nHost: example.com\r\n") != std::string::npos);
  const auto http10 = find("http10").request;
  CHECK(http10.find(" HTTP/1.0\r\n") != std::string::npos);
  CHECK(http10.find("Host:") == std::string::npos);
  CHECK(find("lowercase-method").request.rfind("get http://127.0.0.1:40002/", 0) == 0);
}

TEST_CASE("the metadata probe can be left out") {
  const auto with = audit::planProbes({1, 2, 3, "127.0.0.1:3128", true});
  const auto without = audit::planProbes({1, 2, 3, "127.0.0.1:3128", false});
  CHECK(without.size() + 1 == with.size());
  for (const auto& p : without) CHECK(p.request.find("169.254.169.254") == std::string::npos);
}
