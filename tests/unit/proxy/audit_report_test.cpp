// portcullis audit: the table and the JSON document, including escaping of
// hostile text that a proxy or canary peer could have put in the evidence.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "daemon/audit/report.h"

namespace audit = portcullis::audit;
using audit::AuditReport;
using audit::ProbeResult;
using audit::Verdict;

namespace {

AuditReport sample() {
  AuditReport r;
  r.proxy = "127.0.0.1:3128";
  r.probes.push_back({"connect-smtp-canary", "CONNECT 127.0.0.1:40000", Verdict::kRefused,
                      "HTTP/1.1 403 Forbidden"});
  r.probes.push_back({"get-metadata", "GET http://169.254.169.254/latest/meta-data/",
                      Verdict::kInconclusive, "HTTP/1.1 502 Bad Gateway"});
  return r;
}

}  // namespace

TEST_CASE("JSON document: fields, verdicts and the open flag") {
  auto r = sample();
  CHECK(audit::renderJson(r) ==
        "{\"proxy\":\"127.0.0.1:3128\",\"open\":false,\"relayed\":0,\"inconclusive\":1,\"probes\":["
        "{\"name\":\"connect-smtp-canary\",\"sent\":\"CONNECT "
        "127.0.0.1:40000\",\"verdict\":\"refused\","
        "\"evidence\":\"HTTP/1.1 403 Forbidden\"},"
        "{\"name\":\"get-metadata\",\"sent\":\"GET http://169.254.169.254/latest/meta-data/\","
        "\"verdict\":\"inconclusive\",\"evidence\":\"HTTP/1.1 502 Bad Gateway\"}]}\n");
  r.probes.push_back({"post-smtp-canary", "POST", Verdict::kRelayed, "canary saw 10 bytes: x"});
  const auto json = audit::renderJson(r);
  CHECK(json.find("\"open\":true,\"relayed\":1,") != std::string::npos);
  CHECK(json.find("\"verdict\":\"relayed\"") != std::string::npos);
}

TEST_CASE("JSON document escapes hostile strings") {
  struct Row {
    const char* name;
    std::string raw;
    std::string escaped;
  };
  const Row rows[] = {
      {"quote and backslash", "say \"hi\" \\o/", "say \\\"hi\\\" \\\\o/"},
      {"CR LF cannot start a new line", "a\r\nb", "a\\r\\nb"},
      {"terminal escape", "\x1b[2J", "\\u001b[2J"},
      {"NUL and DEL", std::string("a\0b\x7f", 4), "a\\u0000b\\u007f"},
      {"invalid UTF-8 becomes U+FFFD", "x\xff\xc0y", "x\\ufffd\\ufffdy"},
      {"valid UTF-8 stays", "caf\xc3\xa9", "caf\xc3\xa9"},
  };
  for (const auto& row : rows) {
    SUBCASE(row.name) {
      AuditReport r;
      r.proxy = row.raw;
      r.probes.push_back({row.raw, row.raw, Verdict::kRefused, row.raw});
      const auto json = audit::renderJson(r);
      CHECK(json.find("\"proxy\":\"" + row.escaped + "\"") != std::string::npos);
      CHECK(json.find("\"name\":\"" + row.escaped + "\"") != std::string::npos);
      CHECK(json.find("\"sent\":\"" + row.escaped + "\"") != std::string::npos);
      CHECK(json.find("\"evidence\":\"" + row.escaped + "\"") != std::string::npos);
      // One document, one line.
      CHECK(json.find('\n') == json.size() - 1);
    }
  }
}

TEST_CASE("table: one line per probe, then the summary") {
  auto r = sample();
  auto table = audit::renderTable(r);
  CHECK(table.find("connect-smtp-canary") != std::string::npos);
  CHECK(table.find("refused") != std::string::npos);
  CHECK(table.find("HTTP/1.1 403 Forbidden") != std::string::npos);
  CHECK(table.substr(table.rfind('\n', table.size() - 2) + 1) ==
        "closed: no probe relayed (1 inconclusive)\n");

  r.probes.push_back({"post-smtp-canary", "POST", Verdict::kRelayed, "canary saw 10 bytes: x"});
  r.probes.push_back({"http10", "GET", Verdict::kRelayed, "canary saw 10 bytes: y"});
  table = audit::renderTable(r);
  CHECK(table.substr(table.rfind('\n', table.size() - 2) + 1) ==
        "OPEN: 2 probes relayed (1 inconclusive)\n");
  r.probes.pop_back();
  table = audit::renderTable(r);
  CHECK(table.substr(table.rfind('\n', table.size() - 2) + 1) ==
        "OPEN: 1 probe relayed (1 inconclusive)\n");
}

TEST_CASE("table carries no control bytes from hostile evidence") {
  AuditReport r;
  r.proxy = "127.0.0.1:1";
  r.probes.push_back({"p", "s", Verdict::kRefused, "HTTP/1.1 403 \x1b]0;owned\x07\r\nX: y"});
  const auto table = audit::renderTable(r);
  for (char c : table) {
    const auto u = static_cast<unsigned char>(c);
    CHECK((c == '\n' || (u >= 0x20 && u < 0x7f)));
  }
  // Probe lines, header, title and summary: exactly four lines.
  CHECK(std::count(table.begin(), table.end(), '\n') == 4);
}
