// The one blocking HTTP client (daemon/cli/http_client.h): the reply reader
// that `portcullis status` had, on the deadline-bounded sockets that `portcullis
// audit` had. Servers here are loopback sockets; every wait has a deadline.
#include "daemon/cli/http_client.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

using namespace portcullis;
using namespace std::chrono_literals;

namespace {

/// A listening loopback socket; `to` connects to it.
struct Listener {
  UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  cli::Endpoint to;
  Listener() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd.get(), 4) == 0);
    to.length = sizeof(sockaddr_in);
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&to.storage), &to.length) == 0);
  }
};

/// Accepts one connection, reads the request head, answers `reply`, closes.
std::thread serveOnce(int listenFd, std::string reply, std::string& request) {
  return std::thread([listenFd, reply = std::move(reply), &request] {
    UniqueFd c(::accept(listenFd, nullptr, nullptr));
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    (void)::send(c.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
  });
}

}  // namespace

TEST_CASE("parseHttpReply") {
  struct Row {
    const char* raw;
    int status;  // 0: malformed
  };
  const Row rows[] = {
      {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Portcullis-Seq:  42\r\n\r\nbody", 200},
      {"HTTP/1.0 403 Forbidden\r\n\r\n", 403},
      {"HTTP/1.1 200 OK\r\nno-colon-line\r\n\r\n", 200},
      {"", 0},
      {"HTTP/2 200\r\n\r\n", 0},
      {"HTTP/1.1 200 OK\r\n", 0},  // no end of head
      {"SSH-2.0-OpenSSH\r\n\r\n", 0},
      {"HTTP/1.1 204\r\n\r\n", 204},  // the reason phrase may be missing
      // The status line must have its three digits (the old reader took these as status 0).
      {"HTTP/1.1\r\n\r\n", 0},
      {"HTTP/1.1 OK\r\n\r\n", 0},
      {"HTTP/1.1 2000 OK\r\n\r\n", 0},
  };
  for (const Row& r : rows) {
    SUBCASE(r.raw) {
      const auto reply = cli::parseHttpReply(r.raw);
      REQUIRE(reply.ok() == (r.status != 0));
      if (!reply.ok()) {
        CHECK(reply.error().message == "malformed HTTP response");
        continue;
      }
      CHECK(reply->status == r.status);
    }
  }
  const auto reply = cli::parseHttpReply(rows[0].raw);
  CHECK(reply->headers.at("content-type") == "text/plain");
  CHECK(reply->headers.at("x-portcullis-seq") == "42");
  CHECK(reply->body == "body");
}

TEST_CASE("httpExchange") {
  Listener l;
  SUBCASE("sends the request and reads the reply to EOF") {
    std::string request;
    auto server = serveOnce(l.fd.get(), "HTTP/1.0 200 OK\r\nX-A: b\r\n\r\nhello", request);
    const auto reply = cli::httpExchange(l.to, "GET /status HTTP/1.0\r\n\r\n", 5s);
    server.join();
    REQUIRE(reply.ok());
    CHECK(request == "GET /status HTTP/1.0\r\n\r\n");
    CHECK(reply->status == 200);
    CHECK(reply->headers.at("x-a") == "b");
    CHECK(reply->body == "hello");
  }
  SUBCASE("a server that never answers: the deadline ends it") {
    // The kernel completes the handshake from the backlog; nobody reads.
    const auto start = std::chrono::steady_clock::now();
    const auto reply = cli::httpExchange(l.to, "GET / HTTP/1.0\r\n\r\n", 200ms);
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().message == "read timed out");
    CHECK(std::chrono::steady_clock::now() - start < 5s);
  }
  SUBCASE("nothing listening: the connect error") {
    cli::Endpoint closed = l.to;
    l.fd = UniqueFd();  // closes the listener; the port refuses now
    const auto reply = cli::httpExchange(closed, "GET / HTTP/1.0\r\n\r\n", 5s);
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().message.find("refused") != std::string::npos);
  }
  SUBCASE("a reply that is not HTTP") {
    std::string request;
    auto server = serveOnce(l.fd.get(), "SSH-2.0-OpenSSH_9.2\r\n", request);
    const auto reply = cli::httpExchange(l.to, "GET / HTTP/1.0\r\n\r\n", 5s);
    server.join();
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().message == "malformed HTTP response");
  }
}
