// Scenarios through the cache (hits, revalidation, collapsed forwarding and
// the kinds only the cache produces), a CONNECT tunnel and a request body.

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "daemon/config/config_loader.h"
#include "tests/unit/proxy/exchange_scenarios.h"
#include "tests/unit/proxy/exchange_scenarios_util.h"

namespace portcullis::testing {

using namespace std::chrono_literals;
using T = proxy::Termination;

namespace {

HarnessOptions withCache() {
  HarnessOptions o;
  o.cache = true;
  return o;
}

const std::vector<std::pair<std::string, std::string>> kCacheable = {
    {"Cache-Control", "max-age=60"}, {"ETag", "\"v1\""}};

/// Every descriptor number below a lowered RLIMIT_NOFILE taken, for as long
/// as it lives: the next open() or dup() in this process fails with EMFILE.
/// The only way to make the cache's storage fail inside the process without
/// a fault-injection hook in the daemon.
class FdExhaustion {
 public:
  FdExhaustion() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
      while (dirent* e = ::readdir(d)) highest = std::max(highest, std::atoi(e->d_name));
      ::closedir(d);
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(highest + 1);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      fillers_.push_back(fd);
    }
  }
  ~FdExhaustion() {
    for (int fd : fillers_) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  FdExhaustion(const FdExhaustion&) = delete;
  FdExhaustion& operator=(const FdExhaustion&) = delete;

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
};

ScenarioResult notInCache() {
  ExchangeHarness h(withCache());
  return oneRequest(h, h.get("/never", "Cache-Control: only-if-cached\r\n"));
}

ScenarioResult preconditionFailed() {
  ExchangeHarness h(withCache());
  h.origin().on("/etag", OriginScript::respond(200, "v1", kCacheable));
  auto& client = h.connect();
  client.send(h.get("/etag"));
  collect(h, client);
  client.clearReceived();
  // The stored copy's ETag is "v1": If-Match "v2" fails, from the cache.
  client.send(h.get("/etag", "If-Match: \"v2\"\r\n"));
  return collect(h, client, 2);
}

/// A leader fetching `/shared` (half its body sent, the rest held back in
/// two parts, each sent on OriginServer::release) and a waiter collapsed
/// onto it that has streamed that half.
struct Collapsed {
  ExchangeHarness& h;
  TestClient& leader;
  TestClient& waiter;
};

Collapsed startCollapsed(ExchangeHarness& h) {
  const std::string half(1000, 'a');
  h.origin().on("/shared", OriginScript()
                               .write("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                                      "Content-Length: 2000\r\n\r\n" +
                                      half)
                               .awaitRelease()
                               .write(std::string(500, 'b'))
                               .awaitRelease()
                               .write(std::string(500, 'c')));
  auto& leader = h.connect();
  leader.send(h.get("/shared"));
  h.runUntil([&] { return leader.received().find(half) != std::string::npos; });
  auto& waiter = h.connect();
  waiter.send(h.get("/shared"));
  h.runUntil([&] { return waiter.received().find(half) != std::string::npos; });
  return Collapsed{h, leader, waiter};
}

ScenarioResult storageError() {
  HarnessOptions o = withCache();
  o.cacheFlushInterval = 60s;  // the index thread stays idle while descriptors run out
  ExchangeHarness h(o);
  auto c = startCollapsed(h);
  {
    // The waiter streams the leader's growing file through dup()'d
    // descriptors: with none left, reading the cache fails mid-body. The
    // leader's body does not end meanwhile (ending it closes its file,
    // which would free a descriptor).
    FdExhaustion noDescriptors;
    h.origin().release("/shared");
    h.runUntil([&] { return h.recordsOf(c.waiter) >= 1; });
  }
  h.origin().release("/shared");  // the leader finishes undisturbed
  h.runUntilRecordsOf(c.leader, 1);
  return collect(h, c.waiter);
}

// ---------------------------------------------------------------- phases only

ScenarioResult collapsedWaiter() {
  ExchangeHarness h(withCache());
  auto c = startCollapsed(h);
  h.origin().release("/shared");
  h.runUntil([&] { return c.waiter.received().find(std::string(500, 'b')) != std::string::npos; });
  h.origin().release("/shared");
  return collect(h, c.waiter);
}

ScenarioResult cacheHitThenRevalidated() {
  ExchangeHarness h(withCache());
  h.origin().on("/page", OriginScript::respond(200, "stored body", kCacheable));
  auto& client = h.connect();
  client.send(h.get("/page"));
  collect(h, client);
  client.clearReceived();
  client.send(h.get("/page"));  // fresh: a hit
  collect(h, client, 2);
  // A minute later (on the fake clock) the copy is stale: revalidated by a 304.
  h.clock().advance(120s);
  h.origin().on("/page", OriginScript::respond(304, "", {{"ETag", "\"v1\""}}));
  client.clearReceived();
  client.send(h.get("/page"));
  return collect(h, client, 3);
}

ScenarioResult staleOnOriginError() {
  ExchangeHarness h(withCache());
  h.origin().on("/page", OriginScript::respond(200, "stored body", kCacheable));
  auto& client = h.connect();
  client.send(h.get("/page"));
  collect(h, client);
  // Stale two minutes later, and the origin now hangs up: the stale copy
  // is served (serve_stale_on_error) instead of a 502.
  h.clock().advance(120s);
  h.origin().on("/page", OriginScript().close());
  client.clearReceived();
  client.send(h.get("/page"));
  return collect(h, client, 2);
}

/// A client with a CONNECT tunnel to the origin, one GET answered inside it.
TestClient& openTunnel(ExchangeHarness& h) {
  h.origin().on("/inside", OriginScript::respond(200, "through the tunnel"));
  const std::string authority = "origin.test:" + std::to_string(h.origin().port());
  auto& client = h.connect();
  client.send("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
  h.runUntil([&] { return client.received().find("\r\n\r\n") != std::string::npos; });
  client.send("GET /inside HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
  h.runUntil([&] { return client.received().find("through the tunnel") != std::string::npos; });
  return client;
}

ScenarioResult tunnel() {
  ExchangeHarness h;
  auto& client = openTunnel(h);
  client.shutdownWrite();  // the client is done: the tunnel winds down both ways
  return collect(h, client);
}

/// A tunnel whose rule gets an `until` that then passes (a reload, then the
/// edge): judged again, it is closed and logged closed_by_policy.
ScenarioResult closedByPolicy() {
  ExchangeHarness h;
  auto& client = openTunnel(h);
  // The fake clock stands at 2026-01-01T00:00:00Z; the rule ends a second later.
  std::string text = h.configText();
  const std::string rule = "name = \"local-to-origin\"\n";
  text.replace(text.find(rule), rule.size(), rule + "until = \"2026-01-01T00:00:01Z\"\n");
  const auto reloaded = config::loadConfigText(text, "reloaded.toml", "");
  h.recheckPolicy(*reloaded.config);  // still allowed: nothing happens
  h.clock().advance(2s);
  h.recheckPolicy(*reloaded.config);
  return collect(h, client);
}

ScenarioResult requestBody() {
  ExchangeHarness h;
  h.origin().on("/form", OriginScript::respond(201, "created"));
  return oneRequest(h, "POST " + h.url("/form") +
                           " HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 5\r\n\r\nhello");
}

}  // namespace

std::vector<Scenario> cacheScenarios() {
  return {
      {"only-if-cached, nothing stored",
       T::kNotInCache,
       504,
       {"exchange:Cache", "cache:Idle", "cache:Done"},
       notInCache},
      {"If-Match against the stored ETag",
       T::kPreconditionFailed,
       412,
       {"exchange:Cache", "cache:Storing", "cache:Serving"},
       preconditionFailed},
      {"the cache file cannot be read by a collapsed waiter",
       T::kStorageError,
       200,
       {"exchange:Waiting", "waiter:Streaming", "waiter:Done", "connection:Closed"},
       storageError},
      {"a collapsed waiter streams the leader's body",
       T::kCompleted,
       200,
       {"cache:Fetching", "cache:Storing", "waiter:WaitingHead", "waiter:Streaming", "waiter:Done"},
       collapsedWaiter,
       log::CacheResult::kCollapsed},
      {"a hit, then a revalidation",
       T::kCompleted,
       200,
       {"cache:Serving", "cache:Revalidating", "upstream:AwaitingHead"},
       cacheHitThenRevalidated,
       log::CacheResult::kRevalidated},
      {"a stale copy when the origin fails",
       T::kCompleted,
       200,
       {"cache:Revalidating", "cache:Serving"},
       staleOnOriginError,
       log::CacheResult::kStale},
      {"a CONNECT tunnel",
       T::kCompleted,
       200,
       {"connection:Tunnel", "exchange:Tunnel", "connection:Closed"},
       tunnel},
      {"a tunnel whose rule expired",
       T::kClosedByPolicy,
       200,
       {"connection:Tunnel", "exchange:Tunnel", "connection:Closed"},
       closedByPolicy},
      {"a request body",
       T::kCompleted,
       201,
       {"upstream:SendingBody", "upstream:RelayingBody"},
       requestBody},
  };
}

}  // namespace portcullis::testing
