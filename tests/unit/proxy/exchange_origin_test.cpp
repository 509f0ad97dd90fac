// The exchange harness's own parts, checked against plain sockets: the
// scripted origin, the refusing and the blackhole ports.

#include "tests/unit/proxy/exchange_origin.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "tests/unit/proxy/exchange_client.h"

using namespace portcullis;
using namespace portcullis::testing;
using namespace std::chrono_literals;

namespace {

/// A non-blocking TCP connection to 127.0.0.1:port, read by a TestClient.
struct TcpClient {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int connectResult = 0;
  int connectErrno = 0;
  explicit TcpClient(uint16_t port) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    connectResult = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
    connectErrno = errno;
  }
};

/// Runs the loop until `done()` or a real-time deadline.
template <class F>
bool spin(event_base* base, F done, std::chrono::milliseconds within = 5s) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    timeval tv{0, 10000};
    event_base_loopexit(base, &tv);
    event_base_loop(base, EVLOOP_ONCE);
  }
  return true;
}

int soError(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

}  // namespace

TEST_CASE("the scripted origin answers each path with its steps, in order") {
  net::EventBasePtr base(event_base_new());
  OriginServer origin(base.get());
  origin.on("/a", OriginScript::respond(200, "hello", {{"X-Test", "1"}}));
  origin.on("/slow", OriginScript()
                         .write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
                         .awaitRelease()
                         .write("cd")
                         .close());
  TcpClient tcp(origin.port());
  TestClient client(base.get(), UniqueFd(tcp.fd));
  REQUIRE(client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(spin(base.get(), [&] { return client.received().find("hello") != std::string::npos; }));
  CHECK(client.status() == 200);
  CHECK(client.received().find("X-Test: 1\r\n") != std::string::npos);
  CHECK(client.received().find("Content-Length: 5\r\n") != std::string::npos);

  client.clearReceived();
  REQUIRE(client.send("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"));
  REQUIRE(spin(base.get(), [&] { return client.received().find("ab") != std::string::npos; }));
  CHECK(origin.requestsFor("/slow") == 1);
  CHECK(origin.requests().back().find("\r\n\r\nxyz") != std::string::npos);
  CHECK(!spin(
      base.get(), [&] { return client.received().find("cd") != std::string::npos; }, 50ms));
  origin.release("/slow");
  REQUIRE(spin(base.get(), [&] { return client.closedByProxy(); }));
  CHECK(client.received().substr(client.received().size() - 4) == "abcd");

  TcpClient other(origin.port());
  TestClient second(base.get(), UniqueFd(other.fd));
  REQUIRE(second.send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(spin(base.get(), [&] { return second.status() != 0; }));
  CHECK(second.status() == 404);
  CHECK(origin.connections() == 2);
}

TEST_CASE("the refusing port refuses, the blackhole port never answers") {
  net::EventBasePtr base(event_base_new());
  SUBCASE("refused") {
    RefusingPort refusing;
    TcpClient tcp(refusing.port());
    UniqueFd owned(tcp.fd);
    int error = tcp.connectErrno == ECONNREFUSED ? ECONNREFUSED : 0;
    REQUIRE(spin(base.get(), [&] { return error != 0 || (error = soError(tcp.fd)) != 0; }));
    CHECK(error == ECONNREFUSED);
  }
  SUBCASE("blackhole") {
    BlackholePort blackhole;
    TcpClient tcp(blackhole.port());
    UniqueFd owned(tcp.fd);
    CHECK(tcp.connectResult == -1);
    CHECK(tcp.connectErrno == EINPROGRESS);
    // Still neither connected nor failed a while later.
    CHECK(!spin(
        base.get(), [&] { return soError(tcp.fd) != 0; }, 100ms));
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    CHECK(::getpeername(tcp.fd, reinterpret_cast<sockaddr*>(&peer), &len) == -1);
  }
}
