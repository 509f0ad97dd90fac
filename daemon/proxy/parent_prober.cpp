#include "daemon/proxy/parent_prober.h"

#include <event2/bufferevent.h>

#include <algorithm>

#include "daemon/net/socket_address.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

ParentProber::~ParentProber() = default;

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
  if (!ip) return;
  auto probe = std::make_unique<Probe>();
  probe->owner = this;
  probe->state = &health_.state(parent.name);
  probe->retryAfter = config.parents.retryAfter;
  probe->bev.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!probe->bev) return;
  bufferevent_setcb(probe->bev.get(), nullptr, nullptr, &ParentProber::onEvent, probe.get());
  // A check never outlives the next round.
  const auto limit = std::min(config.server.connectTimeout, config.parents.checkInterval);
  timeval tv = detail::toTimeval(limit);
  bufferevent_set_timeouts(probe->bev.get(), nullptr, &tv);
  auto address = net::SocketAddress::from(*ip, parent.port);
  Probe* raw = probe.get();
  probes_.push_back(std::move(probe));
  if (bufferevent_socket_connect(raw->bev.get(), address.get(), static_cast<int>(address.length)) !=
      0) {
    onEvent(raw->bev.get(), BEV_EVENT_ERROR, raw);
  }
}

void ParentProber::onEvent(bufferevent* bev, short what, void* arg) noexcept {
  auto* probe = static_cast<Probe*>(arg);
  if (probe->done) return;
  probe->done = true;
  bufferevent_disable(bev, EV_READ | EV_WRITE);
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
  if (what & BEV_EVENT_CONNECTED) {
    probe->state->markUp();
    return;
  }
  probe->state->markDown(std::chrono::steady_clock::now(), probe->retryAfter);
  probe->state->failures.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace portcullis::proxy
