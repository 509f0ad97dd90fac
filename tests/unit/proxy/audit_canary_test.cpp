// portcullis audit: the canary listeners really serve on 127.0.0.1 and
// record what arrives. Every wait has a deadline; nothing sleeps.

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <chrono>
#include <string>

#include "daemon/audit/canary.h"
#include "daemon/cli/blocking_socket.h"

namespace audit = portcullis::audit;
namespace cli = portcullis::cli;
using audit::Canary;
using audit::CanaryStyle;

namespace {

cli::Deadline soon() {
  return cli::SteadyClock::now() + std::chrono::seconds(10);
}

portcullis::UniqueFd dial(uint16_t port) {
  auto addrs = cli::resolve({"127.0.0.1", port});
  REQUIRE(addrs.ok());
  auto fd = cli::connectTo(*addrs, soon());
  REQUIRE(fd.ok());
  return std::move(*fd);
}

/// Sends `data`, then reads until the canary closes.
std::string talk(uint16_t port, const std::string& data) {
  auto fd = dial(port);
  REQUIRE(cli::sendAll(fd.get(), data, soon()).ok());
  std::string got;
  CHECK(cli::readUntil(fd.get(), got, soon(), [](std::string_view) { return false; }) ==
        cli::ReadEnd::kClosed);
  return got;
}

}  // namespace

TEST_CASE("SMTP canary: banner first, records MAIL FROM, closes after QUIT") {
  auto canary = Canary::start(CanaryStyle::kSmtp, "tok");
  REQUIRE(canary.ok());
  (*canary)->reset();
  const std::string dialogue = "HELO x\r\nMAIL FROM:<a@b>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n";
  const auto got = talk((*canary)->port(), dialogue);
  CHECK(got.rfind("220 canary ESMTP\r\n", 0) == 0);
  CHECK(got.find("354 ") != std::string::npos);
  CHECK(got.find("250 queued\r\n") != std::string::npos);
  CHECK(got.substr(got.size() - 9) == "221 bye\r\n");
  const auto seen = (*canary)->settle(soon());
  CHECK(seen.connections == 1);
  CHECK(seen.bytes == dialogue.size());
  CHECK(seen.firstLine == "HELO x");
  CHECK(seen.sawMailFrom);

  SUBCASE("a fresh window forgets the last probe") {
    (*canary)->reset();
    const auto none = (*canary)->settle(soon());
    CHECK(none.connections == 0);
    CHECK(none.bytes == 0);
    CHECK_FALSE(none.sawMailFrom);
  }
}

TEST_CASE("HTTP canary answers 200 with the token once the request is complete") {
  auto canary = Canary::start(CanaryStyle::kHttp, "0123abcd");
  REQUIRE(canary.ok());
  (*canary)->reset();
  const std::string request = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  const auto got = talk((*canary)->port(), request);
  CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(got.find("0123abcd") != std::string::npos);
  const auto seen = (*canary)->settle(soon());
  CHECK(seen.bytes == request.size());
  CHECK(seen.firstLine == "POST /x HTTP/1.1");
  CHECK_FALSE(seen.sawMailFrom);  // only the SMTP canary looks for it
}

TEST_CASE("line canary records lines silently and closes on QUIT or an empty line") {
  auto canary = Canary::start(CanaryStyle::kLine, "tok");
  REQUIRE(canary.ok());
  for (const std::string input :
       {"NICK a\r\nUSER a 0 * :a\r\nQUIT\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    CAPTURE(input);
    (*canary)->reset();
    CHECK(talk((*canary)->port(), input).empty());
    const auto seen = (*canary)->settle(soon());
    CHECK(seen.connections == 1);
    CHECK(seen.bytes == input.size());
  }
}
