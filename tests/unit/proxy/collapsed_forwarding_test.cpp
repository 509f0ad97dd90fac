#include "daemon/proxy/collapsed_forwarding.h"

#include <doctest/doctest.h>
#include <event2/event.h>

#include "daemon/net/libevent_handles.h"

using namespace portcullis;
using namespace portcullis::proxy;

namespace {
void countWake(evutil_socket_t, short, void* arg) { ++*static_cast<int*>(arg); }
}  // namespace

TEST_CASE("the first request leads, the next ones wait, and each is woken on progress") {
  net::EventBasePtr base(event_base_new());
  int wakes = 0;
  net::EventPtr wakeA(event_new(base.get(), -1, 0, &countWake, &wakes));
  net::EventPtr wakeB(event_new(base.get(), -1, 0, &countWake, &wakes));
  CollapsedForwarding registry;

  bool leader = false;
  auto fetch = registry.join("http://h/x", nullptr, leader);
  REQUIRE(fetch);
  CHECK(leader);
  bool waiterLeads = true;
  auto joined = registry.join("http://h/x", wakeA.get(), waiterLeads);
  CHECK_FALSE(waiterLeads);
  CHECK(joined == fetch);
  auto other = registry.join("http://h/other", wakeB.get(), waiterLeads);
  CHECK(waiterLeads);  // a different key has its own fetch
  CHECK(other != fetch);

  CHECK(fetch->view().phase == InFlightFetch::Phase::kWaitingHead);
  http::ResponseHead head;
  head.status = 200;
  fetch->publishHead(head, {}, "", nullptr);
  event_base_loop(base.get(), EVLOOP_NONBLOCK);
  CHECK(wakes == 1);
  CHECK(fetch->view().phase == InFlightFetch::Phase::kStreaming);
  CHECK(fetch->view().head->status == 200);

  fetch->notifyProgress();
  event_base_loop(base.get(), EVLOOP_NONBLOCK);
  CHECK(wakes == 2);

  // A waiter that leaves is never woken again.
  fetch->removeWaiter(wakeA.get());
  fetch->finish(InFlightFetch::Phase::kComplete);
  event_base_loop(base.get(), EVLOOP_NONBLOCK);
  CHECK(wakes == 2);

  registry.remove("http://h/x", fetch.get());
  registry.join("http://h/x", nullptr, leader);
  CHECK(leader);  // removed: the next request leads a new fetch
}

TEST_CASE("a fetch that ended uncacheable takes no new waiters") {
  CollapsedForwarding registry;
  bool leader = false;
  auto fetch = registry.join("k", nullptr, leader);
  fetch->finish(InFlightFetch::Phase::kUncacheable);
  net::EventBasePtr base(event_base_new());
  int wakes = 0;
  net::EventPtr wake(event_new(base.get(), -1, 0, &countWake, &wakes));
  bool waiterLeads = true;
  CHECK(registry.join("k", wake.get(), waiterLeads) == nullptr);
  CHECK_FALSE(waiterLeads);
}

TEST_CASE("after an invalidation, new requests start a fresh fetch; waiters keep theirs") {
  net::EventBasePtr base(event_base_new());
  int wakes = 0;
  net::EventPtr wake(event_new(base.get(), -1, 0, &countWake, &wakes));
  CollapsedForwarding registry;
  bool leader = false;
  auto before = registry.join("http://h/x", nullptr, leader);
  REQUIRE(leader);
  bool waiterLeads = true;
  auto waiting = registry.join("http://h/x", wake.get(), waiterLeads);
  CHECK_FALSE(waiterLeads);
  registry.forget("http://h/x");  // a POST to the URL succeeded
  bool nextLeads = false;
  auto after = registry.join("http://h/x", nullptr, nextLeads);
  CHECK(nextLeads);
  CHECK(after != before);
  CHECK(waiting == before);
  registry.remove("http://h/x", before.get());  // the old leader's removal leaves the new fetch
  CHECK(registry.size() == 1);
  waiting->removeWaiter(wake.get());
}
