// portcullis audit: the pure verdict rules (status line + canary
// observations -> refused / relayed / inconclusive).

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/audit/verdict.h"

namespace audit = portcullis::audit;
using audit::CanaryObservation;
using audit::ProbeKind;
using audit::ProxyAnswer;
using audit::Verdict;

namespace {

ProxyAnswer status(std::string line) {
  ProxyAnswer a;
  a.kind = ProxyAnswer::Kind::kStatus;
  a.status = audit::parseStatusCode(line).value_or(0);
  a.statusLine = std::move(line);
  return a;
}

ProxyAnswer withoutStatus(ProxyAnswer::Kind kind, std::string line = "") {
  ProxyAnswer a;
  a.kind = kind;
  a.statusLine = std::move(line);
  return a;
}

CanaryObservation sawBytes(size_t n, std::string first, bool mailFrom = false) {
  CanaryObservation c;
  c.connections = 1;
  c.bytes = n;
  c.firstLine = std::move(first);
  c.sawMailFrom = mailFrom;
  return c;
}

}  // namespace

TEST_CASE("parseStatusCode reads HTTP/1.x status lines and nothing else") {
  struct Row {
    const char* line;
    int code;  // 0 = not a status line
  };
  const std::vector<Row> rows = {
      {"HTTP/1.1 200 OK", 200},
      {"HTTP/1.0 403 Forbidden", 403},
      {"HTTP/1.1 407", 407},
      {"HTTP/1.1 502 Bad Gateway", 502},
      {"HTTP/1.1 200 Connection established", 200},
      {"220 canary ESMTP", 0},
      {"HTTP/2 200", 0},
      {"HTTP/1.1 20 OK", 0},
      {"HTTP/1.1 2000 OK", 0},
      {"HTTP/1.1 abc OK", 0},
      {"HTTP/1.1 099 Low", 0},
      {"", 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.line);
    CHECK(audit::parseStatusCode(r.line).value_or(0) == r.code);
  }
}

TEST_CASE("judge: status answers without canary contact") {
  struct Row {
    const char* name;
    ProbeKind kind;
    ProxyAnswer answer;
    Verdict want;
  };
  const std::vector<Row> rows = {
      {"CONNECT 200 is relayed", ProbeKind::kConnectCanary,
       status("HTTP/1.1 200 Connection established"), Verdict::kRelayed},
      {"CONNECT 403 is refused", ProbeKind::kConnectCanary, status("HTTP/1.1 403 Forbidden"),
       Verdict::kRefused},
      {"CONNECT 502 is refused", ProbeKind::kConnectCanary, status("HTTP/1.1 502 Bad Gateway"),
       Verdict::kRefused},
      {"port 25 CONNECT 200 is relayed", ProbeKind::kPort25, status("HTTP/1.0 200 OK"),
       Verdict::kRelayed},
      {"port 25 any non-2xx is refused", ProbeKind::kPort25,
       status("HTTP/1.1 500 Unable to connect"), Verdict::kRefused},
      {"port 25 403 is refused", ProbeKind::kPort25, status("HTTP/1.1 403 Forbidden"),
       Verdict::kRefused},
      {"self CONNECT 200 is relayed", ProbeKind::kConnectSelf, status("HTTP/1.1 200 OK"),
       Verdict::kRelayed},
      {"self CONNECT 403 is refused", ProbeKind::kConnectSelf, status("HTTP/1.1 403 Forbidden"),
       Verdict::kRefused},
      {"request 403 is refused", ProbeKind::kRequestCanary, status("HTTP/1.1 403 Forbidden"),
       Verdict::kRefused},
      {"request 400 (strict parser) is refused", ProbeKind::kRequestCanary,
       status("HTTP/1.1 400 Bad Request"), Verdict::kRefused},
      {"request 501 is refused", ProbeKind::kRequestCanary, status("HTTP/1.1 501 Not Implemented"),
       Verdict::kRefused},
      {"request 2xx without canary or token is inconclusive", ProbeKind::kRequestCanary,
       status("HTTP/1.1 200 OK"), Verdict::kInconclusive},
      {"metadata 200 is relayed", ProbeKind::kMetadata, status("HTTP/1.1 200 OK"),
       Verdict::kRelayed},
      {"metadata 403 is refused", ProbeKind::kMetadata, status("HTTP/1.1 403 Forbidden"),
       Verdict::kRefused},
      {"metadata 407 is refused", ProbeKind::kMetadata,
       status("HTTP/1.1 407 Proxy Authentication Required"), Verdict::kRefused},
      {"metadata 404 is refused", ProbeKind::kMetadata, status("HTTP/1.1 404 Not Found"),
       Verdict::kRefused},
      {"metadata 502 is inconclusive", ProbeKind::kMetadata, status("HTTP/1.1 502 Bad Gateway"),
       Verdict::kInconclusive},
      {"metadata 504 is inconclusive", ProbeKind::kMetadata, status("HTTP/1.1 504 Gateway Timeout"),
       Verdict::kInconclusive},
      {"metadata 500 is inconclusive", ProbeKind::kMetadata,
       status("HTTP/1.1 500 Unable to connect"), Verdict::kInconclusive},
  };
  for (const auto& r : rows) {
    SUBCASE(r.name) {
      const auto j = audit::judge(r.kind, r.answer, {});
      CHECK(j.verdict == r.want);
      CHECK(j.evidence.find(r.answer.statusLine) != std::string::npos);
    }
  }
}

TEST_CASE("judge: a 2xx with the canary's token in the body is relayed") {
  auto a = status("HTTP/1.1 200 OK");
  a.bodyHasToken = true;
  CHECK(audit::judge(ProbeKind::kRequestCanary, a, {}).verdict == Verdict::kRelayed);
}

TEST_CASE("judge: the proxy closed, timed out, or spoke something else") {
  struct Row {
    const char* name;
    ProbeKind kind;
    ProxyAnswer answer;
    Verdict want;
  };
  const std::vector<Row> rows = {
      {"closed CONNECT is refused", ProbeKind::kConnectCanary,
       withoutStatus(ProxyAnswer::Kind::kClosed), Verdict::kRefused},
      {"closed port 25 is refused", ProbeKind::kPort25, withoutStatus(ProxyAnswer::Kind::kClosed),
       Verdict::kRefused},
      {"closed request is refused", ProbeKind::kRequestCanary,
       withoutStatus(ProxyAnswer::Kind::kClosed), Verdict::kRefused},
      {"timeout is inconclusive", ProbeKind::kPort25, withoutStatus(ProxyAnswer::Kind::kTimeout),
       Verdict::kInconclusive},
      {"connect failure is inconclusive", ProbeKind::kConnectSelf,
       withoutStatus(ProxyAnswer::Kind::kConnectFailed), Verdict::kInconclusive},
      {"non-HTTP answer is inconclusive", ProbeKind::kRequestCanary,
       withoutStatus(ProxyAnswer::Kind::kNotHttp, "220 canary ESMTP"), Verdict::kInconclusive},
  };
  for (const auto& r : rows) {
    SUBCASE(r.name) {
      CHECK(audit::judge(r.kind, r.answer, {}).verdict == r.want);
    }
  }
}

TEST_CASE("judge: canary contact is relayed whatever the proxy said") {
  const std::vector<ProxyAnswer> answers = {
      status("HTTP/1.1 403 Forbidden"), status("HTTP/1.1 502 Bad Gateway"),
      withoutStatus(ProxyAnswer::Kind::kClosed), withoutStatus(ProxyAnswer::Kind::kTimeout),
      withoutStatus(ProxyAnswer::Kind::kNotHttp, "220 canary ESMTP")};
  for (ProbeKind kind : {ProbeKind::kConnectCanary, ProbeKind::kRequestCanary}) {
    for (const auto& a : answers) {
      CAPTURE(a.statusLine);
      const auto j = audit::judge(kind, a, sawBytes(42, "GET /pcaudit/x HTTP/1.1"));
      CHECK(j.verdict == Verdict::kRelayed);
      CHECK(j.evidence.find("canary saw 42 bytes: GET /pcaudit/x HTTP/1.1") != std::string::npos);
    }
  }
  SUBCASE("a bare connection counts") {
    CanaryObservation c;
    c.connections = 1;
    const auto j = audit::judge(ProbeKind::kConnectCanary, status("HTTP/1.1 403 Forbidden"), c);
    CHECK(j.verdict == Verdict::kRelayed);
    CHECK(j.evidence.find("accepted 1 connection") != std::string::npos);
  }
  SUBCASE("MAIL FROM is named in the evidence") {
    const auto j = audit::judge(ProbeKind::kRequestCanary, status("HTTP/1.0 200 OK"),
                                sawBytes(300, "POST / HTTP/1.1", true));
    CHECK(j.verdict == Verdict::kRelayed);
    CHECK(j.evidence.find("MAIL FROM") != std::string::npos);
  }
}

TEST_CASE("printable neutralises control bytes and cuts long text") {
  CHECK(audit::printable("HTTP/1.1 200 OK") == "HTTP/1.1 200 OK");
  CHECK(audit::printable("a\x1b[31mb\r\n\x7f\xc3\xa9") == "a.[31mb.....");
  CHECK(audit::printable(std::string(100, 'x'), 10) == std::string(10, 'x') + "...");
  const auto j =
      audit::judge(ProbeKind::kRequestCanary, status("HTTP/1.1 403 \x1b]0;pwned\x07"), {});
  CHECK(j.evidence.find('\x1b') == std::string::npos);
  CHECK(j.evidence.find('\x07') == std::string::npos);
}

TEST_CASE("verdict names") {
  CHECK(audit::verdictName(Verdict::kRefused) == "refused");
  CHECK(audit::verdictName(Verdict::kRelayed) == "relayed");
  CHECK(audit::verdictName(Verdict::kInconclusive) == "inconclusive");
}
