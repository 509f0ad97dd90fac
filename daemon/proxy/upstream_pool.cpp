#include "daemon/proxy/upstream_pool.h"

#include <event2/buffer.h>
#include <sys/time.h>

#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::toTimeval;

UpstreamPool::UpstreamPool(event_base* base, std::chrono::milliseconds idleTimeout,
                           size_t maxIdlePerKey)
    : base_(base), idleTimeout_(idleTimeout), maxIdlePerKey_(maxIdlePerKey) {}

UpstreamPool::~UpstreamPool() { clear(); }

std::unique_ptr<UpstreamConnection> UpstreamPool::acquire(const net::SocketAddress& address,
                                                          const std::string& key) {
  if (key.empty()) return acquire(address, address.toString());
  if (auto it = idle_.find(key); it != idle_.end() && !it->second.empty()) {
    // Most recently used first: the least likely to have been closed by the origin.
    auto conn = std::move(it->second.back());
    it->second.pop_back();
    if (it->second.empty()) idle_.erase(it);
    --idleCount_;
    bufferevent_setcb(conn->bev.get(), nullptr, nullptr, nullptr, nullptr);
    bufferevent_set_timeouts(conn->bev.get(), nullptr, nullptr);
    conn->reused = true;
    return conn;
  }
  auto conn = std::make_unique<UpstreamConnection>();
  conn->address = address;
  conn->key = key;
  conn->pool = this;
  conn->bev.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!conn->bev) return nullptr;
  return conn;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> conn) {
  auto& list = idle_[conn->key];
  if (list.size() >= maxIdlePerKey_ ||
      evbuffer_get_length(bufferevent_get_input(conn->bev.get())) != 0) {
    if (list.empty()) idle_.erase(conn->key);
    return;  // unique_ptr frees it
  }
  bufferevent* bev = conn->bev.get();
  auto* raw = conn.get();
  list.push_back(std::move(conn));
  ++idleCount_;
  bufferevent_setcb(bev, &UpstreamPool::onIdleRead, nullptr, &UpstreamPool::onIdleEvent, raw);
  timeval tv = toTimeval(idleTimeout_);
  bufferevent_set_timeouts(bev, &tv, nullptr);
  // Last, with the connection already in the list: enabling a TLS filter
  // decrypts at once what its socket already holds, so a close_notify (or
  // stray bytes) that came with the response drops it on the next callback.
  bufferevent_enable(bev, EV_READ);
}

void UpstreamPool::setIdleTimeout(std::chrono::milliseconds t) {
  if (t == idleTimeout_) return;
  idleTimeout_ = t;
  const timeval tv = toTimeval(idleTimeout_);
  for (auto& [key, list] : idle_) {
    for (auto& conn : list) bufferevent_set_timeouts(conn->bev.get(), &tv, nullptr);
  }
}

void UpstreamPool::clear() {
  idle_.clear();
  idleCount_ = 0;
}

void UpstreamPool::onIdleRead(bufferevent*, void* arg) noexcept {
  // An origin must not send anything between responses: drop the connection.
  auto* conn = static_cast<UpstreamConnection*>(arg);
  conn->pool->drop(conn);
}

void UpstreamPool::onIdleEvent(bufferevent*, short, void* arg) noexcept {
  auto* conn = static_cast<UpstreamConnection*>(arg);
  conn->pool->drop(conn);
}

void UpstreamPool::drop(UpstreamConnection* conn) {
  auto it = idle_.find(conn->key);
  if (it == idle_.end()) return;
  auto& list = it->second;
  for (auto li = list.begin(); li != list.end(); ++li) {
    if (li->get() == conn) {
      list.erase(li);  // frees the bufferevent: safe, libevent allows freeing inside its callback
      --idleCount_;
      break;
    }
  }
  if (list.empty()) idle_.erase(it);
}

}  // namespace portcullis::proxy
