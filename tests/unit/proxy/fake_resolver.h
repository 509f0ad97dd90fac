#pragma once
// A HostResolver scripted per host name, for in-process exchange tests: no
// packet leaves the process. A name answers at once, on the next loop turn,
// or when the test releases it (a deferred answer is delivered by a libevent
// event on the loop, as the real resolver's callbacks are); a name without
// a script fails as NXDOMAIN. Counts queries and cancellations.

#include <event2/event.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/net/host_resolver.h"
#include "daemon/net/libevent_handles.h"

namespace portcullis::testing {

class FakeResolver final : public net::HostResolver {
 public:
  /// When a scripted answer reaches the caller.
  enum class Delivery {
    kImmediate,  ///< returned by resolve() itself (a cache hit, a literal)
    kNextTurn,   ///< by callback on the next loop turn
    kHeld,       ///< by callback once release(host) is called
  };

  explicit FakeResolver(event_base* base)
      : fire_(event_new(base, -1, 0, &FakeResolver::onFire, this)) {}
  FakeResolver(const FakeResolver&) = delete;
  FakeResolver& operator=(const FakeResolver&) = delete;

  /// `host` resolves to `addresses` (IP literals).
  void answer(const std::string& host, const std::vector<std::string>& addresses,
              Delivery delivery = Delivery::kImmediate) {
    net::DnsAnswer a;
    for (const auto& text : addresses) {
      if (auto ip = acl::IpAddress::parse(text)) a.addresses.push_back(*ip);
    }
    scripts_[host] = Script{std::move(a), delivery};
  }
  /// `host` fails with `failure` (detail as libevent would word it).
  void fail(const std::string& host, net::DnsFailure failure, std::string detail,
            Delivery delivery = Delivery::kImmediate) {
    net::DnsAnswer a;
    a.failure = failure;
    a.detail = std::move(detail);
    scripts_[host] = Script{std::move(a), delivery};
  }

  std::optional<net::DnsAnswer> resolve(const std::string& host, Callback cb,
                                        uint64_t& ticket) override {
    ++queries_;
    auto it = scripts_.find(host);
    Script script =
        it != scripts_.end() ? it->second : Script{notFound(host), Delivery::kImmediate};
    if (script.delivery == Delivery::kImmediate) {
      ticket = 0;
      return script.answer;
    }
    ticket = nextTicket_++;
    pending_.push_back(Pending{ticket, host, std::move(script.answer), std::move(cb),
                               script.delivery == Delivery::kNextTurn});
    if (script.delivery == Delivery::kNextTurn) event_active(fire_.get(), 0, 0);
    return std::nullopt;
  }

  void cancel(uint64_t ticket) override {
    ++cancels_;
    std::erase_if(pending_, [ticket](const Pending& p) { return p.ticket == ticket; });
    // One being delivered in this batch must not be called any more.
    for (auto& p : firing_) {
      if (p.ticket == ticket) p.ticket = 0;
    }
  }

  /// Delivers the held answers for `host` on the next loop turn.
  void release(const std::string& host) {
    for (auto& p : pending_) {
      if (p.host == host) p.ready = true;
    }
    event_active(fire_.get(), 0, 0);
  }

  size_t queries() const { return queries_; }
  size_t cancels() const { return cancels_; }
  /// Lookups started and not yet answered or cancelled.
  size_t pending() const { return pending_.size(); }
  /// A callback threw (the code under test let an exception out).
  bool callbackThrew() const { return callbackThrew_; }

 private:
  struct Script {
    net::DnsAnswer answer;
    Delivery delivery = Delivery::kImmediate;
  };
  struct Pending {
    uint64_t ticket;
    std::string host;
    net::DnsAnswer answer;
    Callback cb;
    bool ready = false;
  };

  static net::DnsAnswer notFound(const std::string& host) {
    net::DnsAnswer a;
    a.failure = net::DnsFailure::kNotFound;
    a.detail = "name does not exist: " + host;
    return a;
  }

  static void onFire(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<FakeResolver*>(arg);
    // Taken out first: a callback may resolve, or cancel a later one of
    // this batch (cancel() then clears its ticket in firing_).
    std::erase_if(self->pending_, [self](Pending& p) {
      if (!p.ready) return false;
      self->firing_.push_back(std::move(p));
      return true;
    });
    for (size_t i = 0; i < self->firing_.size(); ++i) {
      if (self->firing_[i].ticket == 0) continue;
      self->firing_[i].ticket = 0;
      // Moved out: the callback may end the connection whose lambda it is.
      auto cb = std::move(self->firing_[i].cb);
      auto answer = self->firing_[i].answer;
      try {
        cb(answer);
      } catch (...) {
        // A callback that throws is a bug in the code under test; the
        // loop must survive it so that the test can report it.
        self->callbackThrew_ = true;
      }
    }
    self->firing_.clear();
  }

  net::EventPtr fire_;
  std::map<std::string, Script> scripts_;
  std::vector<Pending> pending_;
  std::vector<Pending> firing_;  ///< the batch onFire is delivering
  bool callbackThrew_ = false;
  uint64_t nextTicket_ = 1;
  size_t queries_ = 0;
  size_t cancels_ = 0;
};

}  // namespace portcullis::testing
