#pragma once
// The active health check of the [[parent]] proxies: every [parents]
// check_interval, a non-blocking TCP connect to each parent on one
// worker's loop. Connected: the parent is up (at once, not after
// retry_after); refused or timed out: down for retry_after. Failed requests
// mark a parent down the same way (upstream_parent.cpp). A parent given by
// name is resolved first through the worker's resolver (never blocking the
// loop); a name that does not resolve, or only to the proxy itself
// (hard:self) or to no unicast address, is down. On the loop thread.

#include <chrono>
#include <memory>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/net/host_resolver.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/parent_health.h"

namespace portcullis::proxy {

class ParentProber {
 public:
  /// `resolver` (the worker's; null = parents given by name are not
  /// checked) must outlive the prober.
  ParentProber(event_base* base, ParentHealth& health, net::HostResolver* resolver = nullptr)
      : base_(base), health_(health), resolver_(resolver) {}
  ~ParentProber();
  ParentProber(const ParentProber&) = delete;
  ParentProber& operator=(const ParentProber&) = delete;

  /// Called once a second: frees finished checks, and starts a round when
  /// check_interval has passed since the last one (none when it is 0).
  void tick(const config::Config& config, std::chrono::steady_clock::time_point now);
  /// Checks still connecting.
  size_t pending() const;

 private:
  struct Probe {
    ParentProber* owner = nullptr;
    ParentState* state = nullptr;
    std::chrono::milliseconds retryAfter{0};
    std::chrono::milliseconds limit{0};  ///< connect timeout
    uint16_t port = 0;
    std::shared_ptr<const acl::Policy> policy;  ///< its self addresses (hard:self)
    uint64_t dnsTicket = 0;                     ///< the parent's name is being resolved
    net::BufferEventPtr bev;
    bool done = false;
  };
  static void onEvent(bufferevent* bev, short what, void* arg) noexcept;
  void start(const config::ParentConfig& parent, const config::Config& config);
  void onResolved(Probe& probe, const net::DnsAnswer& answer);
  void connect(Probe& probe, const acl::IpAddress& ip);
  static void fail(Probe& probe);

  event_base* base_;
  ParentHealth& health_;
  net::HostResolver* resolver_;
  std::chrono::steady_clock::time_point nextRound_{};
  std::vector<std::unique_ptr<Probe>> probes_;
};

}  // namespace portcullis::proxy
