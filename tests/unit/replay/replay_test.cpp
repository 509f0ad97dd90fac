// The replay core: logged requests through a candidate's rules, compared
// with the logged decisions or with another config's.
#include <doctest/doctest.h>

#include <sstream>

#include "daemon/config/config_loader.h"
#include "daemon/replay/flat_json.h"
#include "daemon/replay/replay.h"

using namespace portcullis;
using namespace portcullis::replay;

namespace {

const std::string kSets = R"(
[sources]
lan = ["10.0.0.0/8"]
one = ["10.0.0.3/32"]
[destinations]
web = { hosts = ["*"], ports = [80, 443] }
games = { hosts = ["*.games.example"], cidrs = ["151.101.0.0/16"] }
)";

std::shared_ptr<const config::Config> load(const std::string& rules) {
  auto r = config::loadConfigText(kSets + rules, "cand.toml");
  std::string diagnostics;
  for (const auto& d : r.diagnostics) diagnostics += d.format() + "\n";
  INFO(diagnostics);
  REQUIRE(r.config);
  return r.config;
}

ReplaySide side(const std::shared_ptr<const config::Config>& c) {
  const auto* groups = c->auth.groups.get();
  return {c->policy.get(), [groups](const std::string& u) -> std::span<const std::string> {
            return groups->groupsOf(u);
          }};
}

/// Feeds JSON lines (1-based numbers) to `replay`.
void feed(Replay& replay, const std::vector<std::string>& lines) {
  FlatJson j;
  LoggedRequest r;
  for (size_t i = 0; i < lines.size(); ++i) {
    r.line = i + 1;
    if (!j.parse(lines[i])) {
      replay.malformed(i + 1, j.error());
      continue;
    }
    std::string why = readLoggedRequest(j, r);
    if (!why.empty()) {
      replay.malformed(i + 1, why);
      continue;
    }
    replay.add(r);
  }
}

std::string line(const std::string& client, const std::string& user, const std::string& url,
                 const std::string& decision, const std::string& rule,
                 const std::string& extra = "") {
  return R"({"ts":"2026-11-28T10:00:00.000Z","client":")" + client + R"(:4000","user":)" +
         (user.empty() ? "null" : "\"" + user + "\"") + R"(,"method":"GET","url":")" + url +
         R"(","status":200,"decision":")" + decision + R"(","rule":")" + rule + "\"" + extra + "}";
}

}  // namespace

TEST_CASE("changes against the logged decisions: counts, rule pairs, examples with lines") {
  // Logged under "web for everyone"; the candidate denies games first.
  auto cand = load(R"(
[[rule]]
name = "no-games"
deny = { to = "games" }
[[rule]]
name = "one"
allow = { from = "one", to = "web" }
[[rule]]
name = "web"
allow = { from = "lan", to = "web" }
)");
  Replay replay(side(cand), {}, 2);
  const std::string addr = R"(,"addresses":["93.184.216.34"])";
  feed(replay,
       {
           line("10.0.0.1", "", "http://www.games.example/", "allow", "web", addr),  // ->deny
           line("10.0.0.2", "", "http://x.example/", "allow", "web",
                R"(,"addresses":["151.101.4.4"])"),  // by address: ->deny
           line("10.0.0.3", "alice", "http://x.example/", "allow", "web", addr),    // other rule
           line("10.0.0.4", "", "http://x.example/", "allow", "web", addr),         // same
           line("192.0.2.1", "", "http://x.example/", "deny", "default-deny"),      // same, by name
           line("10.0.0.5", "", "http://x.example/", "deny", "old-block", addr),    // ->allow
           line("10.0.0.6", "", "http://x.example/", "deny", "auth:login"),         // not by rules
           line("10.0.0.7", "", "http://x.example/", "allow", "limit#1"),           // ...
           line("10.0.0.6", "", "http://x.example/", "deny", "hard:sni-mismatch"),  // ...
           "not json",
           line("10.0.0.8", "", "http://www.games.example/", "allow", "web", addr),  // ->deny
       });
  const ReplayReport& r = replay.report();
  CHECK(r.records == 10);
  CHECK(r.malformed == 1);
  REQUIRE(r.malformedExamples.size() == 1);
  CHECK(r.malformedExamples[0].first == 10);
  CHECK(r.notByRules == 2);  // auth:login, hard:sni-mismatch; limit#1 (status 200) is compared
  const auto& a2d = r.changes[static_cast<size_t>(Change::kAllowToDeny)];
  const auto& d2a = r.changes[static_cast<size_t>(Change::kDenyToAllow)];
  const auto& other = r.changes[static_cast<size_t>(Change::kOtherRule)];
  CHECK(a2d.count == 3);
  CHECK(a2d.transitions.at({"web", "no-games"}) == 3);
  REQUIRE(a2d.examples.size() == 2);  // at most examplesPerKind
  CHECK(a2d.examples[0].line == 1);
  CHECK(a2d.examples[0].before == "allow by web");
  CHECK(a2d.examples[0].after.starts_with("deny by no-games (cand.toml:"));
  CHECK(a2d.examples[1].line == 2);
  CHECK(d2a.count == 1);
  CHECK(d2a.examples.at(0).line == 6);
  CHECK(other.count == 2);  // 10.0.0.3: web -> one; limit#1 -> web
  CHECK(other.transitions.at({"web", "one"}) == 1);
  CHECK(r.byNameOnly == 2);  // 192.0.2.1's deny and limit#1's allow: no address logged
  std::ostringstream out;
  printReport(out, r, "the log");
  const std::string text = out.str();
  CHECK(text.find("allow -> deny: 3") != std::string::npos);
  CHECK(text.find("3  web -> no-games") != std::string::npos);
  CHECK(text.find("e.g. line 1: 10.0.0.1 - GET http://www.games.example/") != std::string::npos);
  CHECK(text.find("malformed lines: 1") != std::string::npos);
}

TEST_CASE("the candidate's log-mode rules are counted, not enforced") {
  auto cand = load(R"(
[[rule]]
name = "try-games"
mode = "log"
deny = { to = "games" }
[[rule]]
name = "web"
allow = { from = "lan", to = "web" }
)");
  Replay replay(side(cand), {}, 3);
  feed(replay, {line("10.0.0.1", "", "http://www.games.example/", "allow", "web"),
                line("10.0.0.1", "", "http://a.example/", "allow", "web"),
                line("10.0.0.1", "", "http://b.games.example/", "allow", "web")});
  const ReplayReport& r = replay.report();
  CHECK(r.changed() == 0);
  REQUIRE(r.logMode.count("try-games") == 1);
  CHECK(r.logMode.at("try-games").count == 2);
  CHECK(r.logMode.at("try-games").firstLine == 1);
  CHECK(r.logMode.at("try-games").verdict == acl::Verdict::kDeny);
}

TEST_CASE("with --current: two configs compared on every request, logged outcome ignored") {
  auto current = load(R"(
[[rule]]
name = "web"
allow = { from = "lan", to = "web" }
)");
  auto cand = load(R"(
[[rule]]
name = "no-games"
deny = { to = "games" }
[[rule]]
name = "web"
allow = { from = "lan", to = "web" }
)");
  Replay replay(side(cand), side(current), 3);
  // Logged as a 407 (auth:login): with two configs it is compared all the same.
  feed(replay, {line("10.0.0.1", "", "http://www.games.example/", "deny", "auth:login"),
                line("10.0.0.1", "", "http://a.example/", "deny", "whatever")});
  const ReplayReport& r = replay.report();
  CHECK(r.compared == 2);
  CHECK(r.changes[static_cast<size_t>(Change::kAllowToDeny)].count == 1);
  CHECK(r.changed() == 1);
}

TEST_CASE("factsFromRecord carries every fact of the record") {
  LoggedRequest rec;
  rec.client = *acl::IpAddress::parse("10.0.0.9");
  rec.method = "CONNECT";
  rec.host = "example.org";
  rec.port = 443;
  rec.isConnect = true;
  rec.user = "alice";
  rec.addresses = {*acl::IpAddress::parse("192.0.2.1")};
  const std::vector<std::string> groups = {"teachers"};
  acl::RequestFacts f = factsFromRecord(rec, groups);
  CHECK(f.client.toString() == "10.0.0.9");
  CHECK(f.method == "CONNECT");
  CHECK(f.host == "example.org");
  CHECK(f.port == 443);
  CHECK(f.isConnect);
  CHECK(f.user == "alice");
  CHECK(f.groups.size() == 1);
  CHECK(f.addresses.size() == 1);
}

TEST_CASE("schedules and until are judged at the logged request's time") {
  // Games allowed only in the break; the log has one request in it, one in a lesson.
  auto cand = load(R"(
[schedules]
break = { days = ["mon-sun"], hours = ["10:00-10:30"], timezone = "UTC" }
[[rule]]
name = "games-in-break"
when = "break"
allow = { from = "lan", to = "games" }
[[rule]]
name = "no-games"
deny = { to = "games" }
[[rule]]
name = "web"
allow = { from = "lan", to = "web" }
)");
  Replay replay(side(cand), {}, 3);
  std::string inBreak = line("10.0.0.1", "", "http://www.games.example/", "allow", "web");
  std::string inLesson = inBreak;
  inLesson.replace(inLesson.find("10:00:00"), 8, "11:00:00");
  feed(replay, {inBreak, inLesson});
  const ReplayReport& r = replay.report();
  CHECK(r.compared == 2);
  // 10:00 is inside the break: allowed by another rule; 11:00 is not: denied.
  CHECK(r.changes[static_cast<size_t>(Change::kAllowToDeny)].count == 1);
  CHECK(r.changes[static_cast<size_t>(Change::kOtherRule)].count == 1);
}
