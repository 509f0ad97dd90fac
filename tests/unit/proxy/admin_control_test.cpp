// POST /reload and POST /reopen-logs on the admin listener: what `portcullis
// reload` and `portcullis reopen-logs` use when [admin] listen is set.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/admin/admin_server.h"
#include "daemon/admin/status_client.h"

using namespace portcullis::admin;

namespace {

constexpr std::chrono::milliseconds kTimeout{5000};

HttpReply adminExchange(const AdminAddress& addr, const std::string& request) {
  auto r = httpExchange(addr, request, kTimeout);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return *r;
}

std::string post(const std::string& target, bool withHeader) {
  return "POST " + target + " HTTP/1.0\r\n" + (withHeader ? "X-Portcullis-Admin: 1\r\n" : "") +
         "Content-Length: 0\r\n\r\n";
}

}  // namespace

TEST_CASE("admin server control endpoints go through the handler, POST with the header only") {
  Stats stats(std::chrono::system_clock::now());
  AdminServer server(stats);
  std::vector<std::string> actions;
  server.setControlHandler([&](std::string_view action) -> portcullis::Result<std::string> {
    actions.emplace_back(action);
    return "did " + std::string(action);
  });
  REQUIRE(server.start("127.0.0.1:0", {"127.0.0.1"}).ok());
  const auto addr = *AdminAddress::parse(server.boundAddress());

  for (const std::string& action : {std::string("reload"), std::string("reopen-logs")}) {
    CAPTURE(action);
    const std::string target = "/" + action;
    // A cross-site page can send a simple POST, but not the custom header.
    CHECK(adminExchange(addr, post(target, false)).status == 403);
    auto get = adminExchange(addr, "GET " + target + " HTTP/1.0\r\n\r\n");
    CHECK(get.status == 405);
    CHECK(get.headers.at("allow") == "POST");
    CHECK(actions.empty());
    auto ok = adminExchange(addr, post(target, true));
    CHECK(ok.status == 200);
    CHECK(ok.body == "did " + action + "\n");
    REQUIRE(actions.size() == 1);
    CHECK(actions[0] == action);
    actions.clear();
  }
  server.stop();
}

TEST_CASE("admin server without a control handler answers 404") {
  Stats stats(std::chrono::system_clock::now());
  AdminServer server(stats);
  REQUIRE(server.start("127.0.0.1:0", {"127.0.0.1"}).ok());
  const auto addr = *AdminAddress::parse(server.boundAddress());
  CHECK(adminExchange(addr, post("/reload", true)).status == 404);
  server.stop();
}
