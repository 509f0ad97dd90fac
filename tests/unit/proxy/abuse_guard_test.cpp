#include "daemon/proxy/abuse_guard.h"

#include <doctest/doctest.h>

using namespace portcullis;
using namespace portcullis::proxy;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {
acl::IpAddress ip(const char* text) { return *acl::IpAddress::parse(text); }
}  // namespace

TEST_CASE("a client refused N times within the window is blocked, then released") {
  AbuseGuard guard;
  AbuseGuard::Options o;
  o.refusalsToBlock = 3;
  o.window = seconds(10);
  o.blockFor = seconds(60);
  SteadyTime t0{};
  auto scanner = ip("203.0.113.9");
  bool ended = false;
  CHECK_FALSE(guard.noteRefusal(scanner, o, t0));
  CHECK_FALSE(guard.noteRefusal(scanner, o, t0 + seconds(1)));
  CHECK_FALSE(guard.blocked(scanner, t0 + seconds(1), ended));
  CHECK(guard.noteRefusal(scanner, o, t0 + seconds(2)));  // the third starts the block
  CHECK(guard.blocked(scanner, t0 + seconds(3), ended));
  CHECK_FALSE(ended);
  CHECK_FALSE(guard.blocked(ip("203.0.113.10"), t0 + seconds(3), ended));
  CHECK_FALSE(guard.blocked(scanner, t0 + seconds(63), ended));
  CHECK(ended);  // reported once
  CHECK_FALSE(guard.blocked(scanner, t0 + seconds(64), ended));
  CHECK_FALSE(ended);
}

TEST_CASE("refusals spread wider than the window never block") {
  AbuseGuard guard;
  AbuseGuard::Options o;
  o.refusalsToBlock = 3;
  o.window = seconds(10);
  SteadyTime t0{};
  auto client = ip("2001:db8::1");
  for (int i = 0; i < 20; ++i) CHECK_FALSE(guard.noteRefusal(client, o, t0 + seconds(11 * i)));
}

TEST_CASE("threshold 0 turns blocking off") {
  AbuseGuard guard;
  AbuseGuard::Options o;
  o.refusalsToBlock = 0;
  bool ended = false;
  for (int i = 0; i < 100; ++i) CHECK_FALSE(guard.noteRefusal(ip("192.0.2.1"), o, SteadyTime{}));
  CHECK_FALSE(guard.blocked(ip("192.0.2.1"), SteadyTime{}, ended));
}

TEST_CASE("the tracked set stays bounded under a flood of addresses") {
  AbuseGuard guard;
  AbuseGuard::Options o;
  o.refusalsToBlock = 5;
  o.maxTracked = 100;
  for (uint32_t i = 0; i < 10000; ++i) {
    guard.noteRefusal(acl::IpAddress::fromV4(0x0a000000 + i), o, SteadyTime{} + milliseconds(i));
  }
  // A fresh scanner is still caught after the flood.
  auto scanner = ip("198.51.100.7");
  bool started = false;
  for (int i = 0; i < 5; ++i) started = guard.noteRefusal(scanner, o, SteadyTime{} + seconds(20));
  CHECK(started);
}

TEST_CASE("token bucket: burst, then the rate") {
  RequestRateLimiter limiter;
  SteadyTime t0{};
  auto c = ip("10.20.0.5");
  for (int i = 0; i < 4; ++i) CHECK(limiter.take(c, 2.0, 4.0, t0));
  CHECK_FALSE(limiter.take(c, 2.0, 4.0, t0));
  CHECK_FALSE(limiter.take(c, 2.0, 4.0, t0 + milliseconds(400)));  // 0.8 token
  CHECK(limiter.take(c, 2.0, 4.0, t0 + milliseconds(600)));        // 1.2 tokens
  CHECK(limiter.take(ip("10.20.0.6"), 2.0, 4.0, t0));              // buckets are per client
  CHECK(limiter.take(c, 0.0, 0.0, t0));                            // rate 0 = unlimited
}
