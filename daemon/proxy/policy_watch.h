#pragma once
// When the rules may change their answer for traffic already admitted: after
// a reload (a new policy is live) and at the next edge of a schedule or an
// `until` (acl::nextTimeEdge). One timer per worker, armed at that edge, not
// a poll. At each, `recheck` judges the worker's open tunnels and streaming
// responses again (ClientConnection::recheckPolicy). On the worker's loop thread.

#include <event2/event.h>

#include <functional>
#include <memory>

#include "acl/policy.h"
#include "daemon/base/clock.h"
#include "daemon/config/config.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::proxy {

class PolicyWatch {
 public:
  using Recheck = std::function<void(const acl::Policy& policy, SystemTime now)>;

  /// `clock` and `base` outlive the watch.
  PolicyWatch(event_base* base, const Clock& clock, Recheck recheck);
  PolicyWatch(const PolicyWatch&) = delete;
  PolicyWatch& operator=(const PolicyWatch&) = delete;

  /// `config` is live now: with `recheckNow` (a reload) judge everything at
  /// once; then arm the timer at the policy's next time edge.
  void policyChanged(std::shared_ptr<const config::Config> config, bool recheckNow);

  /// When the timer fires next (SystemTime::max(): not armed). For tests.
  SystemTime nextEdge() const { return edge_; }

 private:
  static void onTimer(evutil_socket_t, short, void* arg) noexcept;
  void arm();

  const Clock& clock_;
  Recheck recheck_;
  net::EventPtr timer_;
  std::shared_ptr<const config::Config> config_;  ///< holds the policy alive
  SystemTime edge_ = SystemTime::max();
};

}  // namespace portcullis::proxy
