#include <doctest/doctest.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "daemon/net/large_read.h"
#include "daemon/net/libevent_handles.h"

using namespace portcullis;

namespace {
struct Seen {
  size_t firstCallbackBytes = 0;
  size_t extraRead = 0;
  std::string all;
  bool useReadMore = true;
};

void onRead(bufferevent* bev, void* arg) {
  auto* seen = static_cast<Seen*>(arg);
  if (seen->firstCallbackBytes == 0) {
    if (seen->useReadMore) seen->extraRead = net::readMore(bev, 256 * 1024);
    seen->firstCallbackBytes = evbuffer_get_length(bufferevent_get_input(bev));
  }
  evbuffer* in = bufferevent_get_input(bev);
  std::string chunk(evbuffer_get_length(in), '\0');
  evbuffer_remove(in, chunk.data(), chunk.size());
  seen->all += chunk;
}

Seen readThrough(bool useReadMore, const std::string& payload) {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  net::EventBasePtr base(event_base_new());
  evutil_make_socket_nonblocking(fds[0]);
  net::BufferEventPtr bev(bufferevent_socket_new(base.get(), fds[0], BEV_OPT_CLOSE_ON_FREE));
  bufferevent_setwatermark(bev.get(), EV_READ, 0, 256 * 1024);
  Seen seen;
  seen.useReadMore = useReadMore;
  bufferevent_setcb(bev.get(), &onRead, nullptr, nullptr, &seen);
  bufferevent_enable(bev.get(), EV_READ);
  REQUIRE(::write(fds[1], payload.data(), payload.size()) == static_cast<ssize_t>(payload.size()));
  ::close(fds[1]);
  // Bounded: the payload is in the socket already; each turn reads some.
  for (int turn = 0; turn < 1000 && seen.all.size() < payload.size(); ++turn) {
    event_base_loop(base.get(), EVLOOP_ONCE);
  }
  return seen;
}
}  // namespace

TEST_CASE("readMore: one callback takes what the socket holds, not libevent's 4 KiB") {
  std::string payload(150 * 1024, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  auto plain = readThrough(false, payload);
  CHECK(plain.firstCallbackBytes <= 4096);  // why readMore exists
  auto topped = readThrough(true, payload);
  CHECK(topped.firstCallbackBytes == payload.size());
  CHECK(topped.extraRead == payload.size() - 4096);
  CHECK(topped.all == payload);  // nothing lost or reordered
}

TEST_CASE("readMore: stops at the limit and leaves EOF for libevent to report") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  net::EventBasePtr base(event_base_new());
  evutil_make_socket_nonblocking(fds[0]);
  net::BufferEventPtr bev(bufferevent_socket_new(base.get(), fds[0], BEV_OPT_CLOSE_ON_FREE));
  std::string payload(64 * 1024, 'x');
  REQUIRE(::write(fds[1], payload.data(), payload.size()) == static_cast<ssize_t>(payload.size()));
  ::close(fds[1]);
  CHECK(net::readMore(bev.get(), 10000) == 10000);
  CHECK(evbuffer_get_length(bufferevent_get_input(bev.get())) == 10000);
  CHECK(net::readMore(bev.get(), 1 << 20) == payload.size() - 10000);
  CHECK(net::readMore(bev.get(), 1 << 20) == 0);  // EOF: nothing read, nothing lost
  CHECK(evbuffer_get_length(bufferevent_get_input(bev.get())) == payload.size());
}
