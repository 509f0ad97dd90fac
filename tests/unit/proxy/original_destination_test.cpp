// net::originalDestination on a connection nothing redirected: the answer
// is where the client connected, i.e. the accepted socket's local address
// (what TPROXY leaves in place too). The NAT case (SO_ORIGINAL_DST after a
// redirect) needs nftables: tests/integration/test_transparent.py.

#include "daemon/net/original_destination.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "daemon/base/unique_handle.h"
#include "daemon/net/listen_socket.h"

using namespace portcullis;

TEST_CASE("originalDestination: an unredirected connection was going to us") {
  auto loopback = *acl::IpAddress::parse("127.0.0.1");
  auto listener = net::openListenSocket(net::SocketAddress::from(loopback, 0));
  REQUIRE(listener.ok());
  auto bound = net::boundAddress(listener->get());
  REQUIRE(bound.ok());
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(client.get(), bound->get(), bound->length) == 0);
  pollfd ready{listener->get(), POLLIN, 0};
  REQUIRE(::poll(&ready, 1, 5000) == 1);  // the listener is non-blocking
  const int accepted = ::accept(listener->get(), nullptr, nullptr);
  REQUIRE(accepted >= 0);
  UniqueFd server(accepted);
  auto original = net::originalDestination(server.get());
  REQUIRE(original.ok());
  CHECK(original->toString() == bound->toString());
}
