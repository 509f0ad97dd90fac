#include "daemon/config/reload_contract.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "daemon/config/config_loader.h"
#include "daemon/config/config_schema.h"

using namespace portcullis::config;

namespace {
// A valid config whose [server], [dns], [log] and [admin] bodies are given.
std::string configText(const std::string& server, const std::string& dns, const std::string& log,
                       const std::string& admin) {
  return "[server]\nlisten = [\"127.0.0.1:3128\"]\n" + server + "\n[dns]\n" + dns +
         "\n[log]\nevents = \"-\"\n" + log + "\n[admin]\n" + admin +
         "\n[sources]\nlocal = [\"127.0.0.1/32\"]\n"
         "[destinations]\nweb = { hosts = [\"*\"], ports = [80] }\n"
         "[[rule]]\nallow = { from = \"local\", to = \"web\" }\n";
}

Config load(const std::string& text) {
  auto r = loadConfigText(text, "t.toml");
  REQUIRE(r.config);
  return *r.config;
}
}  // namespace

TEST_CASE("every restart-only key is a value key of the schema") {
  for (auto key : restartOnlyKeys()) {
    CAPTURE(key);
    const KeySpec* spec = findKeySpec(key);
    REQUIRE(spec != nullptr);
    CHECK(spec->kind == KeyKind::kValue);
  }
  CHECK(isRestartOnly("server.listen"));
  CHECK(!isRestartOnly("dns.nameservers"));               // pushed to every worker's resolver
  CHECK(!isRestartOnly("server.upstream_idle_timeout"));  // pushed to every worker's pool
  CHECK(!isRestartOnly("server.header_timeout"));         // read for every request
  CHECK(!isRestartOnly("admin.allow"));                   // applied on reload
}

TEST_CASE("a reload reports exactly the restart-only keys it changed") {
  const Config before = load(configText("header_timeout = \"10s\"", "timeout = \"5s\"",
                                        "access_format = \"json\"", "listen = \"127.0.0.1:3129\""));
  SUBCASE("live keys only: nothing to report") {
    const Config after =
        load(configText("header_timeout = \"3s\"", "timeout = \"5s\"", "access_format = \"json\"",
                        "listen = \"127.0.0.1:3129\""));
    CHECK(restartOnlyChanges(before, after).empty());
  }
  SUBCASE("what the admin in the issue changed") {
    const Config after = load(configText(
        "header_timeout = \"10s\"", "timeout = \"5s\"\nnameservers = [\"127.0.0.1:5353\"]",
        "access_format = \"squid\"", "listen = \"127.0.0.1:4129\""));
    // The name servers apply on reload; the log format and admin address do not.
    CHECK(restartOnlyChanges(before, after) ==
          std::vector<std::string>{"log.access_format", "admin.listen"});
  }
  SUBCASE("same number of listen addresses, another port") {
    auto text = configText("", "", "", "listen = \"127.0.0.1:3129\"");
    auto moved = text;
    moved.replace(moved.find("127.0.0.1:3128"), 14, "127.0.0.1:3228");
    CHECK(restartOnlyChanges(load(text), load(moved)) == std::vector<std::string>{"server.listen"});
  }
}

TEST_CASE("the values a running daemon reports compare like the configs") {
  const Config running = load(configText("", "", "access_format = \"squid\"", ""));
  const auto values = restartOnlyValues(running);
  REQUIRE(values.size() == restartOnlyKeys().size());
  CHECK(values.front() == KeyValue{"server.listen", "127.0.0.1:3128"});
  CHECK(std::find(values.begin(), values.end(), KeyValue{"log.access_format", "squid"}) !=
        values.end());
  CHECK(restartOnlyChanges(values, restartOnlyValues(running)).empty());
  SUBCASE("a key the other side does not report counts as changed") {
    auto fewer = values;
    fewer.pop_back();
    CHECK(restartOnlyChanges(values, fewer) == std::vector<std::string>{values.back().first});
  }
  SUBCASE("one changed value") {
    auto moved = values;
    moved.front().second = "127.0.0.1:3228";
    CHECK(restartOnlyChanges(values, moved) == std::vector<std::string>{"server.listen"});
  }
}

TEST_CASE("the generated reference marks restart-only keys") {
  const std::string md = configReferenceMarkdown();
  CHECK(md.find("| `pid_file` |") != std::string::npos);
  const auto row = md.substr(md.find("| `pid_file` |"));
  CHECK(row.substr(0, row.find('\n')).find("*Restart only.*") != std::string::npos);
  const auto dns = md.substr(md.find("| `nameservers` |"));
  CHECK(dns.substr(0, dns.find('\n')).find("Restart only") == std::string::npos);
  const auto live = md.substr(md.find("| `header_timeout` |"));
  CHECK(live.substr(0, live.find('\n')).find("Restart only") == std::string::npos);
}

TEST_CASE("keepRestartOnly: the snapshot a reload puts in force runs the start-up values") {
  const Config running = load(configText("header_timeout = \"10s\"", "", "access_format = \"json\"",
                                         "listen = \"127.0.0.1:3129\""));
  const Config reloaded =
      load(configText("header_timeout = \"3s\"", "nameservers = [\"127.0.0.1:5353\"]",
                      "access_format = \"squid\"", "listen = \"127.0.0.1:4129\""));
  REQUIRE(restartOnlyChanges(running, reloaded).size() == 2);
  const Config inForce = keepRestartOnly(reloaded, running);
  CHECK(restartOnlyChanges(running, inForce).empty());
  CHECK(inForce.log.accessFormat == LogFormat::kJson);
  CHECK(inForce.admin.listen == "127.0.0.1:3129");
  // Live keys take the reloaded value.
  CHECK(inForce.server.headerTimeout == std::chrono::seconds(3));
  CHECK(inForce.dns.nameservers == std::vector<std::string>{"127.0.0.1:5353"});
  CHECK(inForce.policy == reloaded.policy);
}
