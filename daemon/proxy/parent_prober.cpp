#include "daemon/proxy/parent_prober.h"

#include <event2/bufferevent.h>

#include <algorithm>

#include "daemon/net/socket_address.h"
#include "daemon/proxy/parent_address.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

ParentProber::~ParentProber() {
  if (resolver_ == nullptr) return;
  for (const auto& p : probes_) resolver_->cancel(p->dnsTicket);
}

size_t ParentProber::pending() const {
  return static_cast<size_t>(
      std::count_if(probes_.begin(), probes_.end(), [](const auto& p) { return !p->done; }));
}

void ParentProber::tick(const config::Config& config, std::chrono::steady_clock::time_point now) {
  // Freed here, never inside their own callback.
  std::erase_if(probes_, [](const auto& p) { return p->done; });
  const auto interval = config.parents.checkInterval;
  if (config.parents.list.empty() || interval.count() <= 0 || now < nextRound_) return;
  nextRound_ = now + interval;
  for (const auto& parent : config.parents.list) start(parent, config);
}

void ParentProber::start(const config::ParentConfig& parent, const config::Config& config) {
  auto ip = acl::IpAddress::parse(parent.host);
  if (!ip && (!parent.hostIsName || resolver_ == nullptr)) return;
  auto probe = std::make_unique<Probe>();
  probe->owner = this;
  probe->state = &health_.state(parent.name);
  probe->retryAfter = config.parents.retryAfter;
  // A check never outlives the next round.
  probe->limit = std::min(config.server.connectTimeout, config.parents.checkInterval);
  probe->port = parent.port;
  probe->policy = config.policy;
  Probe* raw = probe.get();
  probes_.push_back(std::move(probe));
  if (ip) {
    // The same check as a request's (hard:self against the bound ports).
    onResolved(*raw, net::DnsAnswer{{*ip}, std::nullopt, {}});
    return;
  }
  auto answer = resolver_->resolve(
      parent.host, [this, raw](const net::DnsAnswer& a) { onResolved(*raw, a); }, raw->dnsTicket);
  if (answer) onResolved(*raw, *answer);
}

void ParentProber::onResolved(Probe& probe, const net::DnsAnswer& answer) {
  // Called from the resolver's callback: nothing may escape.
  try {
    probe.dnsTicket = 0;
    const acl::SelfAddresses* self = probe.policy ? &probe.policy->selfAddresses() : nullptr;
    auto checked = usableParentAddresses(answer.addresses, probe.port, self);
    if (answer.failure || checked.usable.empty()) {
      fail(probe);
      return;
    }
    connect(probe, checked.usable.front());
  } catch (...) {
    fail(probe);
  }
}

void ParentProber::connect(Probe& probe, const acl::IpAddress& ip) {
  probe.bev.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!probe.bev) {
    probe.done = true;
    return;
  }
  bufferevent_setcb(probe.bev.get(), nullptr, nullptr, &ParentProber::onEvent, &probe);
  timeval tv = detail::toTimeval(probe.limit);
  bufferevent_set_timeouts(probe.bev.get(), nullptr, &tv);
  auto address = net::SocketAddress::from(ip, probe.port);
  if (bufferevent_socket_connect(probe.bev.get(), address.get(),
                                 static_cast<int>(address.length)) != 0) {
    onEvent(probe.bev.get(), BEV_EVENT_ERROR, &probe);
  }
}

void ParentProber::fail(Probe& probe) {
  probe.done = true;
  probe.state->markDown(std::chrono::steady_clock::now(), probe.retryAfter);
  probe.state->failures.fetch_add(1, std::memory_order_relaxed);
}

void ParentProber::onEvent(bufferevent* bev, short what, void* arg) noexcept {
  auto* probe = static_cast<Probe*>(arg);
  if (probe->done) return;
  bufferevent_disable(bev, EV_READ | EV_WRITE);
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
  if (what & BEV_EVENT_CONNECTED) {
    probe->done = true;
    probe->state->markUp();
    return;
  }
  fail(*probe);
}

}  // namespace portcullis::proxy
