#pragma once
// The waiter side of collapsed forwarding: a client whose miss joined
// another client's fetch (the leader, see CacheStage) gets the leader's
// response head and streams its body from the growing cache file
// (read-while-writer, sendfile), paced by its own output watermark. It is
// woken through its own event (InFlightFetch wakes it from any worker).
// Every phase and transition (enter() asserts the table in debug builds and
// tells the observer):
//
//   kIdle --start(fetch)--> kWaitingHead --leader's head, shareable--> kStreaming
//                              |   \--head without a body: finished--------------> kDone
//                              |   \--uncacheable / failed / another Vary variant /
//                              |      origin address not allowed for this client /
//                              |      body unreadable: owner fetches alone---------> kDone
//                              v
//                           (woken: leader's progress or outcome)
//   kStreaming --all of the body sent, leader complete------------------------------> kDone
//   kStreaming --leader failed mid-body, or the file unreadable: owner closes-------> kDone
//   any --leave(): the exchange ended-----------------------------------------------> kDone
//   kDone --start(fetch): the next request on the connection------------------------> kWaitingHead
//
// On the worker's loop thread only.

#include <event2/buffer.h>

#include <memory>
#include <string_view>

#include "daemon/base/unique_handle.h"
#include "daemon/config/config.h"
#include "daemon/http/message.h"
#include "daemon/log/access_record.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/forwarding.h"
#include "daemon/proxy/proxy_context.h"

namespace portcullis::proxy {

class FetchWaiter {
 public:
  enum class Phase : uint8_t { kIdle, kWaitingHead, kStreaming, kDone };

  /// What the waiter needs from its exchange.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual evbuffer* clientOutput() = 0;
    virtual void writeToClient(std::string_view bytes) = 0;
    virtual log::AccessRecord& record() = 0;
    virtual bool keepAlive() const = 0;
    /// The body is close-delimited: the connection ends after it.
    virtual void endKeepAlive() = 0;
    /// The rules for this client allow the address the fetch came from.
    virtual bool mayReadCopyFrom(std::string_view originAddress) const = 0;
    /// The response went out whole: end the exchange.
    virtual void waiterFinished() = 0;
    /// Not a response this client may share: fetch its own.
    virtual void waiterFallBack() = 0;
    /// The body broke after the head went out: close the connection.
    virtual void waiterBroken() = 0;
  };

  FetchWaiter(ProxyContext& context, Owner& owner);
  ~FetchWaiter();
  FetchWaiter(const FetchWaiter&) = delete;
  FetchWaiter& operator=(const FetchWaiter&) = delete;

  /// The event InFlightFetch activates to wake this waiter.
  event* wake() { return wake_.get(); }
  /// Waits on `fetch` (joined with wake()); `request` outlives the wait.
  void start(std::shared_ptr<const config::Config> config, const http::RequestHead& request,
             std::shared_ptr<InFlightFetch> fetch);
  /// Sends what the leader has stored so far (woken, or the client drained).
  void proceed();
  /// Stops waiting (the exchange ended or fetches alone).
  void leave();
  bool active() const { return phase_ == Phase::kWaitingHead || phase_ == Phase::kStreaming; }
  static std::string_view phaseName(Phase p);

 private:
  static bool transitionAllowed(Phase from, Phase to);
  void enter(Phase to);
  static void onWake(evutil_socket_t, short, void* arg) noexcept;
  /// The leader's head: false when the waiter stopped (fell back or finished).
  bool sendHead(const InFlightFetch::View& view);
  /// False when the waiter stopped (the file could not be read).
  bool streamBody(const InFlightFetch::View& view);
  void broken();

  ProxyContext& context_;
  Owner& owner_;
  Phase phase_ = Phase::kIdle;
  net::EventPtr wake_;
  std::shared_ptr<const config::Config> config_;
  const http::RequestHead* request_ = nullptr;
  std::shared_ptr<InFlightFetch> fetch_;
  UniqueFd fd_;
  uint64_t offset_ = 0;
  BodyEncoding encoding_ = BodyEncoding::kNone;
};

}  // namespace portcullis::proxy
