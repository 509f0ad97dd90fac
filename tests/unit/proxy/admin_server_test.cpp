// The admin listener end to end: bind 127.0.0.1 port 0 (or a Unix socket),
// fetch with the blocking client (every exchange has a deadline).

#include "daemon/admin/admin_server.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "daemon/admin/status_client.h"
#include "tests/unit/log/json_check.h"

using namespace portcullis::admin;
using portcullis::log::AccessRecord;
using portcullis::log::CacheResult;
using portcullis::testing::JsonReader;

namespace {

constexpr std::chrono::milliseconds kTimeout{5000};

AccessRecord rec(const std::string& url, int status = 200) {
  AccessRecord r;
  r.start = std::chrono::system_clock::now();
  r.client = "127.0.0.1:4000";
  r.method = "GET";
  r.url = url;
  r.status = status;
  r.bytesOut = 10;
  r.cache = CacheResult::kHit;
  r.rule = "web";
  return r;
}

struct Fixture {
  Stats stats{std::chrono::system_clock::now()};
  AdminServer server{stats};
  AdminAddress addr;

  explicit Fixture(std::vector<std::string> allow = {"127.0.0.1/32"},
                   const std::string& listen = "127.0.0.1:0") {
    const auto r = server.start(listen, allow);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    addr = *AdminAddress::parse(server.boundAddress());
  }
  HttpReply get(const std::string& target) {
    auto r = httpGet(addr, target, kTimeout);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return *r;
  }
  HttpReply raw(const std::string& request) {
    auto r = httpExchange(addr, request, kTimeout);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return *r;
  }
};

}  // namespace

TEST_CASE("admin server serves /metrics, /status and / on an ephemeral port") {
  Fixture f;
  CHECK(f.addr.port != 0);
  f.stats.recordRequest(rec("http://example.com/\"quoted\""));
  f.stats.connectionOpened();

  SUBCASE("/metrics") {
    const auto r = f.get("/metrics");
    CHECK(r.status == 200);
    CHECK(r.headers.at("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(r.body.find("# TYPE portcullis_connections_active gauge\n"
                      "portcullis_connections_active 1\n") != std::string::npos);
    CHECK(r.body.find("portcullis_cache_results_total{result=\"hit\"} 1\n") != std::string::npos);
  }
  SUBCASE("/status JSON") {
    const auto r = f.get("/status");
    CHECK(r.status == 200);
    CHECK(r.headers.at("content-type") == "application/json");
    CHECK(r.headers.at("cache-control") == "no-store");
    const auto v = JsonReader::parse(r.body);
    CHECK(v.at("connections").at("active").number == 1);
    REQUIRE(v.at("recent").array.size() == 1);
    CHECK(v.at("recent").array[0].at("url").string == "http://example.com/\"quoted\"");
    CHECK(JsonReader::parse(f.get("/status?since=1").body).at("recent").array.empty());
  }
  SUBCASE("/status text and lines") {
    CHECK(f.get("/status?format=text").body.find("\nconnections ") != std::string::npos);
    const auto lines = f.get("/status?format=lines&since=0");
    CHECK(lines.headers.at("x-portcullis-seq") == "1");
    CHECK(lines.body.find("http://example.com/\"quoted\"") != std::string::npos);
    CHECK(f.get("/status?format=lines&since=1").body.empty());
    CHECK(f.get("/status?since=abc").status == 400);
    CHECK(f.get("/status?format=xml").status == 400);
  }
  SUBCASE("/ is a self-contained page with a strict CSP") {
    const auto r = f.get("/");
    CHECK(r.status == 200);
    CHECK(r.headers.at("content-type") == "text/html; charset=utf-8");
    CHECK(r.headers.at("content-security-policy").find("default-src 'none'") == 0);
    CHECK(r.body.find("<canvas") != std::string::npos);
    CHECK(r.body.find("fetch(\"status\"") != std::string::npos);
    CHECK(r.body.find("src=\"http") == std::string::npos);  // no external assets
    CHECK(r.body.find("href=\"http") == std::string::npos);
    CHECK(r.body.find("innerHTML") == std::string::npos);  // network text via textContent
    const auto head = f.raw("HEAD / HTTP/1.0\r\n\r\n");
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(head.headers.at("content-length") == std::to_string(r.body.size()));
  }
  SUBCASE("unknown paths and methods") {
    CHECK(f.get("/nope").status == 404);
    const auto post = f.raw("POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    CHECK(post.status == 405);
    CHECK(post.headers.at("allow") == "GET, HEAD");
    CHECK(f.raw("PUT / HTTP/1.0\r\n\r\n").status >= 400);
    CHECK(f.get("/cache/purge?url=x").status == 405);
  }
  SUBCASE("Host must be an IP literal or localhost (DNS rebinding)") {
    CHECK(f.raw("GET /status HTTP/1.0\r\nHost: evil.example:3129\r\n\r\n").status == 403);
    CHECK(f.raw("GET /status HTTP/1.0\r\nHost: localhost:3129\r\n\r\n").status == 200);
    CHECK(f.raw("GET /status HTTP/1.0\r\nHost: [::1]:3129\r\n\r\n").status == 200);
    CHECK(f.raw("GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").status == 200);
    // Read by http::parseHostPort: names are case-insensitive, and a bad port
    // (once ignored) or an octal-looking address is refused.
    CHECK(f.raw("GET /status HTTP/1.0\r\nHost: LocalHost:3129\r\n\r\n").status == 200);
    CHECK(f.raw("GET /status HTTP/1.0\r\nHost: 127.0.0.1:99999\r\n\r\n").status == 403);
    CHECK(f.raw("GET /status HTTP/1.0\r\nHost: 0127.0.0.1\r\n\r\n").status == 403);
  }
  f.server.stop();
}

TEST_CASE("admin server refuses peers outside its allow list; reload changes it") {
  Fixture f({"10.0.0.0/8"});
  const auto r = f.get("/metrics");
  CHECK(r.status == 403);
  CHECK(r.body.find("allow list") != std::string::npos);
  REQUIRE(f.server.setAllowList({"127.0.0.0/8"}).ok());
  CHECK(f.get("/metrics").status == 200);
  CHECK_FALSE(f.server.setAllowList({"not-an-ip"}).ok());
  CHECK(f.get("/metrics").status == 200);  // a bad list leaves the old one
}

TEST_CASE("admin server start errors name the address") {
  Stats stats(std::chrono::system_clock::now());
  AdminServer server(stats);
  SUBCASE("bad address") {
    const auto r = server.start("localhost:80", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("localhost:80") != std::string::npos);
  }
  SUBCASE("bad allow list") {
    CHECK_FALSE(server.start("127.0.0.1:0", {"x"}).ok());
  }
  SUBCASE("port in use") {
    Fixture busy;
    const auto r = server.start(busy.server.boundAddress(), {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(busy.server.boundAddress()) != std::string::npos);
  }
}

TEST_CASE("admin server purge goes through the handler") {
  Stats stats(std::chrono::system_clock::now());
  AdminServer server(stats);
  std::string purged;
  server.setPurgeHandler([&](std::string_view url) -> portcullis::Result<std::string> {
    purged = std::string(url);
    return std::string("purged 1 object");
  });
  REQUIRE(server.start("127.0.0.1:0", {"127.0.0.1"}).ok());
  const auto addr = *AdminAddress::parse(server.boundAddress());
  const std::string target = "/cache/purge?url=http%3A%2F%2Fa.example%2Fx";
  auto noHeader =
      httpExchange(addr, "POST " + target + " HTTP/1.0\r\nContent-Length: 0\r\n\r\n", kTimeout);
  REQUIRE(noHeader.ok());
  CHECK(noHeader->status == 403);
  CHECK(purged.empty());
  auto ok = httpExchange(
      addr, "POST " + target + " HTTP/1.0\r\nX-Portcullis-Admin: 1\r\nContent-Length: 0\r\n\r\n",
      kTimeout);
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  CHECK(ok->body == "purged 1 object\n");
  CHECK(purged == "http://a.example/x");
  server.stop();
}

TEST_CASE("admin server on a Unix socket") {
  char tmpl[] = "/tmp/pc_admin_test_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string path = dir + "/admin.sock";
  {
    Fixture f({}, "unix:" + path);  // the allow list does not apply to Unix peers
    CHECK(std::filesystem::is_socket(path));
    CHECK(f.get("/metrics").status == 200);
    f.server.stop();
    CHECK_FALSE(std::filesystem::exists(path));  // removed on stop
  }
  {
    Fixture again({}, "unix:" + path);  // a stale socket file is replaced
    CHECK(again.get("/status").status == 200);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("runStatus prints figures, JSON, and follows recent requests") {
  Fixture f;
  const std::string address = f.server.boundAddress();
  std::ostringstream out, err;

  SUBCASE("text") {
    CHECK(runStatus(address, false, false, out, err) == 0);
    CHECK(out.str().find("hit ratio") != std::string::npos);
    CHECK(err.str().empty());
  }
  SUBCASE("json") {
    CHECK(runStatus(address, false, true, out, err) == 0);
    CHECK_NOTHROW(JsonReader::parse(out.str()));
  }
  SUBCASE("follow shows the last lines, then only new ones") {
    for (int i = 0; i < 12; ++i)
      f.stats.recordRequest(rec("http://e.example/" + std::to_string(i)));
    StatusOptions o;
    o.follow = true;
    o.pollInterval = std::chrono::milliseconds(0);
    o.maxPolls = 1;
    CHECK(runStatus(address, o, out, err) == 0);
    const std::string first = out.str();
    CHECK(std::count(first.begin(), first.end(), '\n') == 10);
    CHECK(first.find("http://e.example/1 ") == std::string::npos);
    CHECK(first.find("http://e.example/11 ") != std::string::npos);
  }
  SUBCASE("follow as JSON lines") {
    f.stats.recordRequest(rec("http://j.example/"));
    StatusOptions o;
    o.follow = true;
    o.json = true;
    o.maxPolls = 2;
    o.pollInterval = std::chrono::milliseconds(0);
    CHECK(runStatus(address, o, out, err) == 0);
    const std::string text = out.str();
    REQUIRE(std::count(text.begin(), text.end(), '\n') == 1);  // second poll: nothing new
    CHECK(JsonReader::parse(text.substr(0, text.size() - 1)).at("url").string ==
          "http://j.example/");
  }
  SUBCASE("errors") {
    CHECK(runStatus("nonsense", false, false, out, err) == 2);
    f.server.stop();
    CHECK(runStatus(address, false, false, out, err) == 1);
    CHECK(err.str().find("cannot reach the admin listener at " + address) != std::string::npos);
  }
}
