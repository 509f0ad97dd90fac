#include "daemon/proxy/tunnel.h"

#include <doctest/doctest.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "daemon/base/unique_handle.h"
#include "daemon/net/libevent_handles.h"

using namespace portcullis;
using namespace portcullis::proxy;
using namespace std::chrono_literals;

namespace {

/// A connected pair: `inner` goes into a bufferevent (the proxy's side),
/// `outer` is the peer the test drives without blocking.
struct Pair {
  int inner = -1;
  UniqueFd outer;
};

Pair makePair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  return Pair{fds[0], UniqueFd(fds[1])};
}

struct Fixture {
  // splice(2) into a closed socket raises SIGPIPE, which the daemon ignores.
  bool sigpipeIgnored = ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  net::EventBasePtr base{event_base_new()};
  Pair client = makePair();
  Pair upstream = makePair();
  net::BufferEventPtr clientBev{
      bufferevent_socket_new(base.get(), client.inner, BEV_OPT_CLOSE_ON_FREE)};
  net::BufferEventPtr upstreamBev{
      bufferevent_socket_new(base.get(), upstream.inner, BEV_OPT_CLOSE_ON_FREE)};
  std::optional<Tunnel::Totals> done;
  std::unique_ptr<Tunnel> tunnel;

  void start(Tunnel::Options options = {}) {
    tunnel = std::make_unique<Tunnel>(std::move(clientBev), std::move(upstreamBev), options,
                                      [this](const Tunnel::Totals& t) { done = t; });
    tunnel->start();
  }

  /// Runs the loop until `want` bytes (or EOF) arrive on `fd`, with a deadline.
  std::string readFrom(int fd, size_t want, bool untilEof = false) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline && (untilEof || got.size() < want)) {
      event_base_loop(base.get(), EVLOOP_NONBLOCK);
      char buf[65536];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n == 0) break;
      if (n > 0) got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  void runUntilDone() {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
  }
};

void send(const UniqueFd& fd, std::string_view bytes) {
  REQUIRE(::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
}

}  // namespace

TEST_CASE("bytes the bufferevents hold go first, in order, then the relay runs both ways") {
  Fixture f;
  const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
  // Bytes the client pipelined after CONNECT, already read into the bufferevent.
  send(f.client.outer, "early");
  bufferevent_enable(f.clientBev.get(), EV_READ);
  for (int i = 0; i < 100 && evbuffer_get_length(bufferevent_get_input(f.clientBev.get())) < 5;
       ++i) {
    event_base_loop(f.base.get(), EVLOOP_NONBLOCK);
  }
  REQUIRE(evbuffer_get_length(bufferevent_get_input(f.clientBev.get())) == 5);
  bufferevent_write(f.clientBev.get(), established.data(), established.size());
  f.start();

  CHECK(f.readFrom(f.upstream.outer.get(), 5) == "early");
  send(f.upstream.outer, "from origin");
  CHECK(f.readFrom(f.client.outer.get(), established.size() + 11) == established + "from origin");
  send(f.client.outer, "more");
  CHECK(f.readFrom(f.upstream.outer.get(), 4) == "more");
  CHECK(!f.done);
  CHECK(f.tunnel->totals().clientToUpstream == 9);
  CHECK(f.tunnel->totals().upstreamToClient == 11);  // the 200 is not the origin's
}

TEST_CASE("a half-close is passed on and the other direction keeps going") {
  Fixture f;
  f.start();
  SUBCASE("client closes first") {
    send(f.client.outer, "question");
    ::shutdown(f.client.outer.get(), SHUT_WR);
    CHECK(f.readFrom(f.upstream.outer.get(), 0, /*untilEof=*/true) == "question");
    CHECK(!f.done);
    send(f.upstream.outer, "answer");
    ::shutdown(f.upstream.outer.get(), SHUT_WR);
    CHECK(f.readFrom(f.client.outer.get(), 0, true) == "answer");
  }
  SUBCASE("origin closes first") {
    send(f.upstream.outer, "banner");
    ::shutdown(f.upstream.outer.get(), SHUT_WR);
    CHECK(f.readFrom(f.client.outer.get(), 0, true) == "banner");
    CHECK(!f.done);
    send(f.client.outer, "reply");
    ::shutdown(f.client.outer.get(), SHUT_WR);
    CHECK(f.readFrom(f.upstream.outer.get(), 0, true) == "reply");
  }
  f.runUntilDone();
  REQUIRE(f.done);
  CHECK(f.done->error.empty());
}

TEST_CASE("a tunnel with no bytes either way ends at the idle timeout") {
  Fixture f;
  Tunnel::Options options;
  options.idleTimeout = 30ms;
  f.start(options);
  f.runUntilDone();
  REQUIRE(f.done);
  CHECK(f.done->error == "tunnel idle timeout");
}

TEST_CASE("a peer that resets ends the tunnel with an error") {
  Fixture f;
  f.start();
  f.client.outer.reset();  // gone: the next write to it fails
  send(f.upstream.outer, "x");
  f.runUntilDone();
  REQUIRE(f.done);
  CHECK(f.done->error == "connection error");
}
