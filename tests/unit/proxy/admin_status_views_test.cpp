// What the status views show an admin (issue #13, items 8 and 9): every
// denial rule with its count, most first; a failed reload's diagnostics; the
// cache's use against max_size; the clients the abuse guard blocks, and
// POST /unblock; the deciding rule of a denial in `status --follow`.
#include <doctest/doctest.h>

#include <chrono>
#include <sstream>

#include "daemon/admin/admin_commands.h"
#include "daemon/admin/admin_server.h"
#include "daemon/admin/stats.h"
#include "daemon/admin/status_client.h"
#include "daemon/proxy/abuse_guard.h"
#include "tests/unit/log/json_check.h"

using namespace portcullis;
using namespace portcullis::admin;
using portcullis::testing::JsonReader;
using portcullis::testing::JsonValue;
using std::chrono::seconds;

namespace {
const SystemTime kT0{std::chrono::seconds(1'800'000'000)};
constexpr std::chrono::milliseconds kTimeout{5000};

void denials(Stats& s) {
  for (int i = 0; i < 5; ++i) s.aclDenied("hard:port-25");
  for (int i = 0; i < 2; ++i) s.aclDenied("default-deny");
  s.aclDenied("block-ads");
  s.aclDenied("allow-later");
  for (int i = 0; i < 3; ++i) s.aclDenied("zz-games");
}
}  // namespace

TEST_CASE("denials: every rule, most denials first, in JSON, text and metrics") {
  Stats s(kT0);
  denials(s);
  const auto snap = s.snapshot(kT0);
  const auto sorted = denialsByCount(snap);
  REQUIRE(sorted.size() == 5);
  CHECK(sorted[0] == std::pair<std::string, uint64_t>{"hard:port-25", 5});
  CHECK(sorted[1] == std::pair<std::string, uint64_t>{"zz-games", 3});
  CHECK(sorted[2] == std::pair<std::string, uint64_t>{"default-deny", 2});
  CHECK(sorted[3] == std::pair<std::string, uint64_t>{"allow-later", 1});  // ties by name
  CHECK(sorted[4] == std::pair<std::string, uint64_t>{"block-ads", 1});
  const std::string text = renderStatusText(snap);
  CHECK(text.find("hard:port-25 5, zz-games 3, default-deny 2, allow-later 1, block-ads 1") !=
        std::string::npos);
  const std::string json = renderStatusJson(snap, {}, {});
  CHECK(json.find(R"("acl_denials":{"hard:port-25":5,"zz-games":3,"default-deny":2,)") !=
        std::string::npos);
}

TEST_CASE("a failed reload's diagnostics are shown until a reload succeeds") {
  Stats s(kT0);
  const std::string diag =
      "/etc/portcullis/portcullis.toml:3:1: error: unknown key 'x'\n"
      "/etc/portcullis/portcullis.toml:9:5: error: bad \x1b[31m";
  s.reloadFinished(false, diag);
  auto snap = s.snapshot(kT0);
  CHECK(snap.lastReloadError == diag);
  const auto v = JsonReader::parse(renderStatusJson(snap, {}, {}));
  CHECK(v.at("reloads").at("last_ok").boolean == false);
  CHECK(v.at("reloads").at("last_error").string == diag);
  const std::string text = renderStatusText(snap);
  CHECK(
      text.find("\n              /etc/portcullis/portcullis.toml:3:1: error: unknown key 'x'\n") !=
      std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);
  s.reloadFinished(true);
  snap = s.snapshot(kT0);
  CHECK(snap.lastReloadError.empty());
  CHECK(JsonReader::parse(renderStatusJson(snap, {}, {})).at("reloads").at("last_error").type ==
        JsonValue::Type::kNull);
}

TEST_CASE("cache use is shown against max_size") {
  Stats s(kT0);
  s.setCacheUsage(256ull << 20, 12);
  SUBCASE("cache on") {
    s.setCacheLimit(1ull << 30);
    const auto snap = s.snapshot(kT0);
    CHECK(renderStatusText(snap).find("256.0 MiB of 1.0 GiB (25.0%) in 12 objects") !=
          std::string::npos);
    CHECK(
        JsonReader::parse(renderStatusJson(snap, {}, {})).at("cache").at("max_size_bytes").number ==
        1073741824.0);
    CHECK(renderPrometheus(snap).find("portcullis_cache_max_size_bytes 1073741824\n") !=
          std::string::npos);
  }
  SUBCASE("cache off") {
    const auto snap = s.snapshot(kT0);
    CHECK(renderStatusText(snap).find("256.0 MiB in 12 objects") != std::string::npos);
    CHECK(JsonReader::parse(renderStatusJson(snap, {}, {})).at("cache").at("max_size_bytes").type ==
          JsonValue::Type::kNull);
  }
}

TEST_CASE("abuse guard: blocked clients with time left, and unblock") {
  proxy::AbuseGuard guard;
  proxy::AbuseGuard::Options o;
  o.refusalsToBlock = 1;
  o.blockFor = seconds(600);
  const proxy::SteadyTime t0{};
  const auto a = *acl::IpAddress::parse("203.0.113.9");
  const auto b = *acl::IpAddress::parse("2001:db8::7");
  CHECK(guard.noteRefusal(a, o, t0));
  CHECK(guard.noteRefusal(b, o, t0 + seconds(100)));
  auto blocked = guard.blockedClients(t0 + seconds(200));
  REQUIRE(blocked.size() == 2);
  CHECK(blocked[0].client == a);  // soonest unblocked first
  CHECK(blocked[0].left == seconds(400));
  CHECK(blocked[1].left == seconds(500));
  CHECK(guard.unblock(a, t0 + seconds(200)));
  CHECK_FALSE(guard.unblock(a, t0 + seconds(200)));
  bool ended = false;
  CHECK_FALSE(guard.blocked(a, t0 + seconds(201), ended));
  CHECK(guard.blockedClients(t0 + seconds(200)).size() == 1);
  // An expired block is not listed, and unblocking it says "not blocked".
  CHECK(guard.blockedClients(t0 + seconds(700)).empty());
  CHECK_FALSE(guard.unblock(b, t0 + seconds(700)));
}

TEST_CASE("blocked clients appear in every view; the refusal reason is 'blocked'") {
  Stats s(kT0);
  s.setBlockedClientsSource([] {
    return std::vector<BlockedClient>{{"203.0.113.9", 75}, {"2001:db8::7", 3600}};
  });
  s.connectionRefused(RefuseReason::kBlocked);
  const auto snap = s.snapshot(kT0);
  REQUIRE(snap.blockedClients.size() == 2);
  const auto v = JsonReader::parse(renderStatusJson(snap, {}, {}));
  CHECK(v.at("blocked_clients").array.size() == 2);
  CHECK(v.at("blocked_clients").array[0].at("client").string == "203.0.113.9");
  CHECK(v.at("blocked_clients").array[0].at("seconds_left").number == 75);
  CHECK(v.at("connections").at("refused").at("blocked").number == 1);
  CHECK(v.at("connections").at("refused").at("source_denied").number == 0);
  CHECK(renderStatusText(snap).find("203.0.113.9 (1m 15s left), 2001:db8::7 (1h 0m left)") !=
        std::string::npos);
  const std::string prom = renderPrometheus(snap);
  CHECK(prom.find("portcullis_connections_refused_total{reason=\"blocked\"} 1\n") !=
        std::string::npos);
  CHECK(prom.find("portcullis_clients_blocked 2\n") != std::string::npos);
}

TEST_CASE("status --follow names the deciding rule of a denial") {
  log::AccessRecord allowed;
  allowed.start = kT0;
  allowed.status = 200;
  allowed.rule = "local-web";
  log::AccessRecord denied = allowed;
  denied.status = 403;
  denied.decision = log::AccessDecision::kDeny;
  denied.rule = "hard:port-25";
  const std::string lines = renderRecentLines({{1, allowed}, {2, denied}}, false);
  const auto second = lines.substr(lines.find('\n') + 1);
  CHECK(lines.substr(0, lines.find('\n')).find("denied-by=") == std::string::npos);
  CHECK(second.find(" denied-by=hard:port-25") != std::string::npos);
}

TEST_CASE("POST /unblock goes through the handler, with the admin header only") {
  Stats stats(std::chrono::system_clock::now());
  AdminServer server(stats);
  std::string asked;
  server.setUnblockHandler([&](std::string_view ip) -> Result<std::string> {
    asked = std::string(ip);
    if (ip == "203.0.113.9") return std::string("unblocked 203.0.113.9");
    return Error{std::string(ip) + " is not blocked", 404};
  });
  REQUIRE(server.start("127.0.0.1:0", {"127.0.0.1"}).ok());
  const auto addr = *AdminAddress::parse(server.boundAddress());
  auto post = [&](const std::string& target, bool header) {
    return httpExchange(addr,
                        "POST " + target + " HTTP/1.0\r\n" +
                            (header ? "X-Portcullis-Admin: 1\r\n" : "") +
                            "Content-Length: 0\r\n\r\n",
                        kTimeout);
  };
  auto noHeader = post("/unblock?ip=203.0.113.9", false);
  REQUIRE(noHeader.ok());
  CHECK(noHeader->status == 403);
  CHECK(asked.empty());
  auto get = httpGet(addr, "/unblock?ip=203.0.113.9", kTimeout);
  REQUIRE(get.ok());
  CHECK(get->status == 405);
  auto ok = post("/unblock?ip=203.0.113.9", true);
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  CHECK(ok->body == "unblocked 203.0.113.9\n");
  auto missing = post("/unblock?ip=198.51.100.1", true);
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  auto noIp = post("/unblock", true);
  REQUIRE(noIp.ok());
  CHECK(noIp->status == 400);

  // The CLI: `portcullis unblock IP --admin ADDRESS`.
  std::ostringstream out, err;
  AdminTarget target;
  target.address = server.boundAddress();
  target.addressGiven = true;
  CHECK(runUnblock(target, "203.0.113.9", out, err) == 0);
  CHECK(out.str() == "unblocked 203.0.113.9\n");
  CHECK(runUnblock(target, "198.51.100.1", out, err) == 1);
  CHECK(runUnblock(target, "not-an-ip", out, err) == 2);
  CHECK(err.str().find("'not-an-ip' is not an IP address") != std::string::npos);
  server.stop();
}

TEST_CASE("logged-in users: requests, bytes and denials in JSON and text; never credentials") {
  Stats s(kT0);
  log::AccessRecord r;
  r.user = "alice";
  r.bytesOut = 1000;
  s.recordRequest(r);
  s.recordRequest(r);
  r.user = "bob";
  r.bytesOut = 300;
  r.decision = log::AccessDecision::kDeny;
  s.recordRequest(r);
  r.user = "";  // anonymous: not a user
  s.recordRequest(r);
  const auto snap = s.snapshot(kT0);
  REQUIRE(snap.userTotals.size() == 2);
  CHECK(snap.userTotals.at("alice").requests == 2);
  CHECK(snap.userTotals.at("alice").bytes == 2000);
  CHECK(snap.userTotals.at("alice").denials == 0);
  CHECK(snap.userTotals.at("bob").denials == 1);
  const std::string json = renderStatusJson(snap, {}, {});
  CHECK(json.find(R"("users":{"alice":2,"bob":1})") != std::string::npos);
  CHECK(json.find(R"("user_totals":{"alice":{"requests":2,"bytes":2000,"denials":0},)"
                  R"("bob":{"requests":1,"bytes":300,"denials":1}})") != std::string::npos);
  const std::string text = renderStatusText(snap);
  CHECK_MESSAGE(
      text.find("alice 2 req 2.0 KiB 0 denied, bob 1 req 300 B 1 denied") != std::string::npos,
      text);
}
