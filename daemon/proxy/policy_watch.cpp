#include "daemon/proxy/policy_watch.h"

#include <algorithm>

#include "acl/policy_impl.h"
#include "acl/rule_time.h"

namespace portcullis::proxy {

namespace {
// Never sleep longer than this: the wall clock may be stepped (NTP, a
// suspended VM), and a late edge is found at the next wake-up.
constexpr auto kLongestWait = std::chrono::minutes(10);
// Fire just after the edge: a timer that fires a hair early sees the old
// answer and re-arms for the rest.
constexpr auto kAfterEdge = std::chrono::milliseconds(5);
}  // namespace

PolicyWatch::PolicyWatch(event_base* base, const Clock& clock, Recheck recheck)
    : clock_(clock), recheck_(std::move(recheck)), timer_(evtimer_new(base, &onTimer, this)) {}

void PolicyWatch::policyChanged(std::shared_ptr<const config::Config> config, bool recheckNow) {
  config_ = std::move(config);
  if (!config_ || !config_->policy) return;
  if (recheckNow) recheck_(*config_->policy, clock_.systemNow());
  arm();
}

void PolicyWatch::arm() {
  evtimer_del(timer_.get());
  const SystemTime now = clock_.systemNow();
  edge_ = acl::nextTimeEdge(config_->policy->impl(), now);
  if (edge_ == SystemTime::max()) return;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(edge_ - now) + kAfterEdge;
  wait = std::clamp<std::chrono::milliseconds>(wait, std::chrono::milliseconds(1), kLongestWait);
  timeval tv{static_cast<time_t>(wait.count() / 1000),
             static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
  evtimer_add(timer_.get(), &tv);
}

void PolicyWatch::onTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<PolicyWatch*>(arg);
  try {
    if (!self->config_) return;
    self->recheck_(*self->config_->policy, self->clock_.systemNow());
    self->arm();
  } catch (...) {
    // Never let an exception out of a libevent callback.
  }
}

}  // namespace portcullis::proxy
