#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "acl/ip_address.h"
#include "acl/policy.h"
#include "daemon/config/commands.h"
#include "daemon/config/config_loader.h"

using namespace portcullis::config;

namespace {
struct TempConfig {
  std::filesystem::path path;
  explicit TempConfig(const std::string& text, const char* name = "pc_commands_test.toml") {
    path = std::filesystem::temp_directory_path() / name;
    std::ofstream(path) << text;
  }
  ~TempConfig() { std::filesystem::remove(path); }
};

const char* kGood =
    "[server]\nlisten = [\"127.0.0.1:3128\"]\n"
    "[sources]\nlan = [\"10.0.0.0/8\"]\n"
    "[destinations]\nblocked = { hosts = [\"*.bad.test\"] }\n"
    "web = { hosts = [\"*\"], ports = [80, 443] }\n"
    "intranet = { cidrs = [\"192.168.5.0/24\"] }\n"
    "[[rule]]\nname = \"block\"\ndeny = { to = \"blocked\" }\n"
    "[[rule]]\nname = \"lan-web\"\nallow = { from = \"lan\", to = \"web\" }\n"
    "[[rule]]\nname = \"lan-intranet\"\nallow = { from = \"lan\", to = \"intranet\" }\n";
}  // namespace

TEST_CASE("validate: OK, errors, --strict") {
  std::ostringstream out, err;
  SUBCASE("good config") {
    TempConfig c(kGood);
    CHECK(runValidate(c.path.string(), false, out, err) == 0);
    CHECK(out.str() == "configuration OK\n");
    CHECK(err.str().empty());
  }
  SUBCASE("errors are printed with file:line:col, exit 1") {
    TempConfig c(std::string(kGood) + "[bogus]\n");
    CHECK(runValidate(c.path.string(), false, out, err) == 1);
    CHECK(err.str().find(c.path.string() + ":18:2: error: unknown key 'bogus'") != std::string::npos);
    CHECK(out.str().empty());
  }
  SUBCASE("warnings pass, --strict makes them fatal") {
    TempConfig c(std::string(kGood) + "[destinations.unused]\nports = [8080]\n");
    CHECK(runValidate(c.path.string(), false, out, err) == 0);
    CHECK(out.str() == "configuration OK (1 warning(s))\n");
    CHECK(err.str().find("warning: destination set 'unused' is not used") != std::string::npos);
    std::ostringstream out2, err2;
    CHECK(runValidate(c.path.string(), true, out2, err2) == 1);
    CHECK(err2.str().find("--strict") != std::string::npos);
  }
}

TEST_CASE("explain: which rule decides and why") {
  TempConfig c(kGood);
  struct Case {
    const char* from; const char* to; const char* method; int rc; const char* expect;
  };
  const Case cases[] = {
      {"10.1.1.1", "http://www.example.org/x", "", 0, "before DNS: ALLOW by lan-web"},
      {"10.1.1.1", "http://www.example.org/x", "", 0, "after DNS: every address"},
      {"10.1.1.1", "http://ads.bad.test/", "", 1, "before DNS: DENY by block"},
      {"10.1.1.1", "www.example.org:443", "", 0, "request: CONNECT www.example.org:443"},
      {"10.1.1.1", "www.example.org:443", "", 0, "SNI check: after the 200 the tunnel's TLS"},
      {"10.1.1.1", "www.example.org:22", "", 1, "DENY by hard:connect-port"},
      {"10.1.1.1", "mail.example.org:25", "", 1, "DENY by hard:port-25"},
      {"10.1.1.1", "http://169.254.169.254/latest", "", 1, "DENY by hard:special-address"},
      {"10.1.1.1", "http://192.168.5.9/", "", 0, "decision: ALLOW by lan-intranet"},
      {"10.1.1.1", "http://[::1]:8080/", "", 1, "address ::1 (loopback"},
      {"10.1.1.1", "http://127.0.0.1:3128/", "", 1, "DENY by hard:self"},
      {"192.0.2.1", "http://www.example.org/", "", 1, "before DNS: DENY by default-deny"},
      {"10.1.1.1", "http://www.example.org/", "POST", 0, "request: POST"},
      {"not-an-ip", "http://x/", "", 2, ""},
      {"10.1.1.1", "nonsense", "", 2, ""},
  };
  for (const Case& k : cases) {
    CAPTURE(k.to);
    std::ostringstream out, err;
    CHECK(runExplain(c.path.string(), k.from, k.to, k.method, out, err) == k.rc);
    CAPTURE(out.str());
    CHECK(out.str().find(k.expect) != std::string::npos);
  }
}

TEST_CASE("explain reads --to with the daemon's target parsers") {
  // Before, explain had its own URL and HOST:PORT reader: it dropped userinfo,
  // took any scheme and kept the host as typed, so it explained requests the
  // daemon answers 400. Now what the daemon refuses, explain refuses, saying why.
  TempConfig c(kGood);
  struct Case {
    const char* to;
    int rc;
    const char* out;  // substring of stdout
    const char* err;  // substring of stderr
  };
  const Case cases[] = {
      {"http://WWW.Example.ORG/x", 0, "before DNS: ALLOW by lan-web", ""},
      {"http://ads.BAD.test/", 1, "before DNS: DENY by block", ""},
      {"ADS.bad.test:443", 1, "DENY by block", ""},
      {"http://[0:0::1]:8080/", 1, "address ::1 (loopback", ""},
      {"http://user@www.example.org/", 2, "",
       "--to: cannot read the URL 'http://user@www.example.org/': userinfo"},
      {"ftp://www.example.org/", 2, "", "unsupported URI scheme"},
      {"http://www.example.org/#top", 2, "", "fragment"},
      {"http://a.123/", 2, "", "ambiguous numeric host name"},
      {"www.example.org", 2, "",
       "is neither a URL (http://host/path) nor HOST:PORT: missing :PORT"},
      {"::1:443", 2, "", "written in brackets"},
      {"www.example.org:0", 2, "", "'0' is not a port from 1 to 65535"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.to);
    std::ostringstream out, err;
    CHECK(runExplain(c.path.string(), "10.1.1.1", k.to, "", out, err) == k.rc);
    CAPTURE(out.str());
    CAPTURE(err.str());
    CHECK(out.str().find(k.out) != std::string::npos);
    CHECK(err.str().find(k.err) != std::string::npos);
  }
}

TEST_CASE("explain: a bad config exits 2 with diagnostics") {
  TempConfig c("[server]\nlisten = 1\n");
  std::ostringstream out, err;
  CHECK(runExplain(c.path.string(), "10.0.0.1", "http://x/", "", out, err) == 2);
  CHECK(err.str().find(":2:10: error:") != std::string::npos);
}

TEST_CASE("explain prints what the daemon's admission function decides") {
  // One table through acl::Policy::evaluate (what the daemon calls for every
  // request, before and after DNS) and through `explain`: same verdict, same rule.
  TempConfig c(kGood);
  auto loaded = loadConfigFile(c.path.string());
  REQUIRE(loaded.config);
  struct Case {
    const char* from;
    const char* method;
    const char* scheme;
    const char* host;
    uint16_t port;
    const char* to;
  };
  const Case cases[] = {
      {"10.1.1.1", "GET", "http", "www.example.org", 80, "http://www.example.org/"},
      {"10.1.1.1", "GET", "http", "ads.bad.test", 80, "http://ads.bad.test/"},
      {"10.1.1.1", "CONNECT", "", "www.example.org", 443, "www.example.org:443"},
      {"10.1.1.1", "CONNECT", "", "www.example.org", 22, "www.example.org:22"},
      {"10.1.1.1", "GET", "http", "mail.example.org", 25, "http://mail.example.org:25/"},
      {"10.1.1.1", "GET", "http", "169.254.169.254", 80, "http://169.254.169.254/"},
      {"10.1.1.1", "GET", "http", "192.168.5.9", 80, "http://192.168.5.9/"},
      {"10.1.1.1", "GET", "http", "127.0.0.1", 3128, "http://127.0.0.1:3128/"},
      {"192.0.2.1", "GET", "http", "www.example.org", 80, "http://www.example.org/"},
      {"10.1.1.1", "POST", "http", "www.example.org", 80, "http://www.example.org/"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.to);
    portcullis::acl::RequestFacts facts;
    auto client = portcullis::acl::IpAddress::parse(k.from);
    REQUIRE(client);
    facts.client = *client;
    facts.method = k.method;
    facts.scheme = k.scheme;
    facts.host = k.host;
    facts.port = k.port;
    facts.isConnect = std::string_view(k.method) == "CONNECT";
    std::vector<portcullis::acl::IpAddress> literal;
    if (auto ip = portcullis::acl::IpAddress::parse(k.host)) literal.push_back(*ip);
    facts.addresses = literal;
    const auto decision = loaded.config->policy->evaluate(facts);
    std::ostringstream out, err;
    const int rc = runExplain(c.path.string(), k.from, k.to,
                              std::string_view(k.method) == "CONNECT" ? "" : k.method, out, err);
    CAPTURE(out.str());
    CHECK(rc == (decision.allowed() ? 0 : 1));
    const std::string verdict =
        std::string(decision.allowed() ? "ALLOW" : "DENY") + " by " + decision.rule;
    CHECK(out.str().find(verdict) != std::string::npos);
  }
}

TEST_CASE("explain shows the cache key and the refresh rule of a URL") {
  TempConfig c(std::string(kGood) +
                   "[[cache.alias]]\nhosts = [\"*.steamcontent.com\"]\nidentity = \"steam\"\n"
                   "[[cache.refresh]]\nhosts = [\"deb.debian.org\"]\npath = \"/debian/pool/*\"\n"
                   "min = \"30d\"\nmax = \"365d\"\npercent = 20\n",
               "pc_commands_cache_test.toml");
  const std::string file = c.path.string();
  struct Case {
    const char* to;
    std::vector<std::string> expect;
    std::vector<std::string> absent;
  };
  const Case cases[] = {
      {"http://cache3.steamcontent.com/depot/7/chunk/x",
       {"cache key: http://steam.cache-alias.invalid/depot/7/chunk/x (identity 'steam', " + file +
        ":18:1)"},
       {"refresh rule"}},
      {"http://deb.debian.org/debian/pool/main/a/apt.deb",
       {"cache key: http://deb.debian.org/debian/pool/main/a/apt.deb\n",
        "refresh rule: " + file + ":21:1: min 2592000s, max 31536000s, 20%"},
       {"identity"}},
      {"http://www.example.org:8080/x", {"cache key: http://www.example.org:8080/x\n"}, {}},
      {"www.example.org:443", {"request: CONNECT"}, {"cache key"}},
  };
  for (const Case& k : cases) {
    CAPTURE(k.to);
    std::ostringstream out, err;
    runExplain(file, "10.1.1.1", k.to, "", out, err);
    CAPTURE(out.str());
    CAPTURE(err.str());
    for (const auto& e : k.expect) CHECK(out.str().find(e) != std::string::npos);
    for (const auto& a : k.absent) CHECK(out.str().find(a) == std::string::npos);
  }
}
