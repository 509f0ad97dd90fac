#include "daemon/proxy/collapsed_forwarding.h"

#include <event2/event.h>

#include <algorithm>

namespace portcullis::proxy {

InFlightFetch::View InFlightFetch::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

bool InFlightFetch::addWaiter(event* wake) {
  std::lock_guard lock(mutex_);
  if (view_.phase == Phase::kUncacheable || view_.phase == Phase::kFailed) return false;
  waiters_.push_back(wake);
  return true;
}

void InFlightFetch::removeWaiter(event* wake) {
  std::lock_guard lock(mutex_);
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), wake), waiters_.end());
}

void InFlightFetch::publishHead(http::ResponseHead head, std::vector<std::string> varyNames,
                                std::string secondaryKey,
                                std::shared_ptr<const cache::InFlightBody> body,
                                std::string originAddress) {
  std::lock_guard lock(mutex_);
  view_.head = std::make_shared<const http::ResponseHead>(std::move(head));
  view_.varyNames = std::move(varyNames);
  view_.secondaryKey = std::move(secondaryKey);
  view_.body = std::move(body);
  view_.originAddress = std::move(originAddress);
  view_.phase = Phase::kStreaming;
  wakeAllLocked();
}

void InFlightFetch::notifyProgress() {
  std::lock_guard lock(mutex_);
  wakeAllLocked();
}

void InFlightFetch::finish(Phase phase) {
  std::lock_guard lock(mutex_);
  view_.phase = phase;
  wakeAllLocked();
}

void InFlightFetch::wakeAllLocked() {
  for (event* ev : waiters_) event_active(ev, EV_READ, 0);
}

std::shared_ptr<InFlightFetch> CollapsedForwarding::join(const std::string& key, event* wake,
                                                         bool& leader) {
  std::lock_guard lock(mutex_);
  auto it = fetches_.find(key);
  if (it == fetches_.end()) {
    leader = true;
    auto fetch = std::make_shared<InFlightFetch>();
    fetches_.emplace(key, fetch);
    return fetch;
  }
  leader = false;
  if (!it->second->addWaiter(wake)) return nullptr;
  return it->second;
}

void CollapsedForwarding::remove(const std::string& key, const InFlightFetch* fetch) {
  std::lock_guard lock(mutex_);
  auto it = fetches_.find(key);
  if (it != fetches_.end() && it->second.get() == fetch) fetches_.erase(it);
}

void CollapsedForwarding::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  fetches_.erase(key);
}

size_t CollapsedForwarding::size() const {
  std::lock_guard lock(mutex_);
  return fetches_.size();
}

}  // namespace portcullis::proxy
