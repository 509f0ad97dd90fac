#pragma once
// One client connection on one worker thread, through any number of
// keep-alive requests. Every state and every transition (enter() asserts
// the table below in debug builds):
//
//                 +------------------- keep-alive: finishTransaction() ------------------+
//                 v                                                                      |
//   start --> kReadingHead --head, admitted--> kResolving --addresses allowed-->+        |
//                 |   (400/403/429/508, Max-Forwards:                           |        |
//                 |    answered here, then back or close)        cache: fresh hit/304/412/504 --+
//                 |                                              collapsed miss, a waiter:      |
//                 |                              kWaitingForFetch --leader's body streamed------+
//                 |                                     | not shareable / leader failed          |
//                 |                                     v                                        |
//                 |                              kResolving --> kConnecting (next address on     |
//                 |                                             failure; a pooled one at once)   |
//                 |                                     |                 \ CONNECT              |
//                 |                                     v                  v                     |
//                 |      kSendingBody --body sent--> kAwaitingResponse   kTunnel --> kClosed     |
//                 |            \______head early_______/  |  1xx relayed (bounded)               |
//                 |                                       v  304/stale served from cache --------+
//                 |                                 kRelayingResponse --body done----------------+
//                 |                                       (refetch: back to kConnecting)
//                 +--> kFlushingThenClose --output drained--> kClosed   (any state may close)
//
// Every libevent callback is noexcept and funnels into the methods below; a
// session that finishes asks its context (the Worker) to delete it after the
// callback.

#include <event2/buffer.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "cache/cache.h"
#include "cache/policy/freshness.h"
#include "daemon/config/config.h"
#include "daemon/http/chunked_decoder.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/log/access_record.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/net/resolver.h"
#include "daemon/net/socket_address.h"
#include "daemon/proxy/cache_stage.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/error_page.h"
#include "daemon/proxy/fetch_waiter.h"
#include "daemon/proxy/forwarding.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/tunnel.h"
#include "daemon/proxy/upstream_pool.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

class ClientSession final : private UpstreamRequest::Owner,
                            private CacheStage::Owner,
                            private FetchWaiter::Owner {
 public:
  /// `context` outlives the session; everything the session reaches outside
  /// itself goes through it.
  ClientSession(ProxyContext& context, int fd, const net::SocketAddress& peer,
                acl::IpAddress clientIp);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  void start();
  /// Graceful stop: close now if between requests, else after this response.
  void drain();
  bool closed() const { return state_ == State::kClosed; }

 private:
  enum class State : uint8_t {
    kReadingHead,
    kResolving,
    kFetching,  ///< the UpstreamRequest runs (its own phases: upstream_request.h)
    kTunnel,
    kWaitingForFetch,  ///< collapsed onto another session's fetch
    kFlushingThenClose,
    kClosed,
  };

  /// The transition table of the diagram above.
  static bool transitionAllowed(State from, State to);
  /// Moves to `to`; a transition outside the table is a bug (debug assert).
  /// Tells the context's observer.
  void enter(State to);
  static std::string_view stateName(State s);

  /// What one request/response exchange needs; reset for every request.
  struct Transaction {
    std::shared_ptr<const config::Config> config;
    http::RequestHead request;
    http::Target target;
    RequestBody body;
    std::vector<acl::IpAddress> addresses;
    uint64_t dnsTicket = 0;
    bool keepAlive = true;
    std::chrono::steady_clock::time_point started;
    log::AccessRecord record;
    bool active = false;

    bool cacheChecked = false;  ///< the cache stage looked up (a waiter gone solo skips it)
  };

  // libevent entry points. Each runs its body through guarded(): no
  // exception (an allocation failure, say) crosses into libevent; the
  // session closes instead.
  template <class Body>
  static void guarded(void* arg, Body&& body) noexcept {
    auto* self = static_cast<ClientSession*>(arg);
    try {
      body(self);
    } catch (...) {
      self->close();
    }
  }
  static void onClientRead(bufferevent*, void* arg) noexcept;
  static void onClientWrite(bufferevent*, void* arg) noexcept;
  static void onClientEvent(bufferevent*, short what, void* arg) noexcept;
  static void onHeadTimer(evutil_socket_t, short, void* arg) noexcept;
  static void onResume(evutil_socket_t, short, void* arg) noexcept;
  static void onClientFlush(evutil_socket_t, short, void* arg) noexcept;
  static void onClientOutputAdded(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept;

  // request side
  void readHead();
  void beginTransaction(size_t headBytes);
  bool checkTarget();
  void resolve();
  void onResolved(const net::DnsAnswer& answer);
  /// What the policy needs to know of this request (before DNS).
  acl::RequestFacts requestFacts() const;
  /// The destination rules after DNS, on every address (hard rules included).
  acl::Decision checkAddresses(const std::vector<acl::IpAddress>& addresses) const;
  /// Hands the request to upstream_ (the addresses are resolved and allowed).
  void startUpstream();
  void startTunnel();

  // UpstreamRequest::Owner (session_response.cpp)
  bufferevent* clientEvents() override { return client_.get(); }
  log::AccessRecord& record() override { return txn_.record; }
  void writeToClient(std::string_view bytes) override;
  std::string upstreamHead(BodyEncoding bodyEncoding) override;
  void upstreamTunnel() override;
  bool onResponseHead() override;
  void teeBody(evbuffer* body, size_t n) override { cache_.tee(body, n); }
  void teeBody(std::string_view bytes) override { cache_.tee(bytes); }
  void responseComplete() override;
  void responseBroken(std::string error) override;
  void upstreamFailed(ErrorReply error, std::string logError, bool mayServeStale,
                      bool close) override;
  void requestBodyInvalid(std::string_view reason) override;
  void upstreamAborted() override { close(); }

  // CacheStage::Owner and FetchWaiter::Owner (session_cache.cpp)
  evbuffer* clientOutput() override { return bufferevent_get_output(client_.get()); }
  bool keepAlive() const override { return txn_.keepAlive; }
  acl::Decision admitAddresses(const std::vector<acl::IpAddress>& addresses) const override {
    return checkAddresses(addresses);
  }
  void servedFromCache() override { finishTransaction(); }
  void answer(ErrorReply error, bool close) override { reply(std::move(error), close); }
  event* waiterWake() override { return waiter_.wake(); }
  void waitForFetch(std::shared_ptr<InFlightFetch> fetch) override;
  void endKeepAlive() override { txn_.keepAlive = false; }
  bool mayReadCopyFrom(std::string_view originAddress) const override {
    return cache_.mayReadCopyFrom(originAddress);
  }
  void waiterFinished() override { finishTransaction(); }
  void waiterFallBack() override;
  void waiterBroken() override { close(); }
  /// Ends the exchange's cache stage and any wait; a lead ends with `outcome`.
  void leaveCache(InFlightFetch::Phase outcome);

  // endings
  void reply(ErrorReply error, bool close = true);
  /// 403 for a refusal by the policy; the page names the rule only (its
  /// reason and file:line are for the log and `explain`).
  void denied(const acl::Decision& decision);
  void finishTransaction();
  /// Drops a Content-Length request body that already arrived whole; false
  /// when it has not (or is chunked): the connection must then close.
  bool discardRequestBody();
  void answerMaxForwards();
  void logTransaction();
  void closeAfterFlush();
  void close();
  void armHeadTimer(std::chrono::milliseconds timeout);
  /// Resolves this client's [[limit]] from config_ (after start and after a
  /// reload swapped config_) and sets the connection's bandwidth bucket.
  void applyLimits();
  bool overRequestRate();
  void noteRefusal();
  /// What to do once the client's output has drained (below the write
  /// watermark): resume the origin, the waiter, or the pending close.
  void onClientDrained();
  /// Between a complete request and the end of its response.
  bool busyWithExchange() const {
    return state_ == State::kResolving || state_ == State::kFetching ||
           state_ == State::kWaitingForFetch;
  }
  /// Stops the direct-write path before the bufferevent changes hands.
  void stopDirectWrites();

  ProxyContext& context_;
  net::BufferEventPtr client_;
  net::SocketAddress peer_;
  acl::IpAddress clientIp_;
  std::string clientText_;
  net::EventPtr headTimer_;
  net::EventPtr resumeEvent_;
  /// Direct writes: EV_WRITE on the client stays off while its output is
  /// empty; bytes added schedule clientFlush_, which writes them straight
  /// to the socket at the end of this loop turn (one writev, no epoll_ctl)
  /// and only enables EV_WRITE when the socket did not take everything.
  net::EventPtr clientFlush_;
  evbuffer_cb_entry* outputWatch_ = nullptr;
  bool flushScheduled_ = false;
  std::unique_ptr<Tunnel> tunnel_;
  UpstreamRequest upstream_{context_, *this};
  State state_ = State::kReadingHead;
  Transaction txn_;
  CacheStage cache_{context_, *this};
  FetchWaiter waiter_{context_, *this};
  bool headStarted_ = false;
  bool draining_ = false;
  size_t requestsServed_ = 0;
  std::string scratch_;
  std::shared_ptr<const config::Config> config_;  // for the connection-level limits
  /// The [[limit]] that applies to this client under config_, copied by
  /// value: nothing in a session points into a snapshot it might outlive.
  std::optional<config::RateLimitConfig> limit_;
  UniqueHandle<ev_token_bucket_cfg, ev_token_bucket_cfg_free> bandwidth_;
};

}  // namespace portcullis::proxy
