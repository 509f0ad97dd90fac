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
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/error_page.h"
#include "daemon/proxy/forwarding.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/tunnel.h"
#include "daemon/proxy/upstream_pool.h"

namespace portcullis::proxy {

class ClientSession {
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
    kConnecting,
    kSendingBody,
    kAwaitingResponse,
    kRelayingResponse,
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
    http::Framing requestFraming;
    http::ChunkedDecoder requestChunks;
    uint64_t requestBodyLeft = 0;
    bool requestBodyDone = true;
    std::vector<acl::IpAddress> addresses;
    size_t nextAddress = 0;
    uint64_t dnsTicket = 0;
    std::unique_ptr<UpstreamConnection> upstream;
    bool retried = false;
    bool responseBytesSeen = false;
    /// first_byte_timeout counts from the request, not from the last 1xx.
    std::chrono::steady_clock::time_point firstByteDeadline;
    unsigned interimCount = 0;
    size_t interimBytes = 0;
    http::ResponseHead response;
    http::Framing responseFraming;
    BodyEncoding clientEncoding = BodyEncoding::kNone;
    http::ChunkedDecoder responseChunks;
    uint64_t responseBodyLeft = 0;
    bool keepAlive = true;
    bool upstreamReusable = false;
    std::chrono::steady_clock::time_point started;
    log::AccessRecord record;
    bool active = false;

    // Cache (see session_cache.cpp).
    bool cacheEligible = false;  ///< GET/HEAD through an enabled cache
    bool cacheChecked = false;   ///< tryCache() ran (a collapsed waiter gone solo skips it)
    std::string cacheKey;
    std::shared_ptr<const cache::StoredEntry> stored;  ///< entry being revalidated
    /// A Range miss fetched whole (cache.range_fetch_whole_max): the client
    /// gets only its range, cut from the body as it streams past.
    uint64_t unannouncedBytes = 0;  ///< leader: stored but not yet announced to waiters
    bool fetchWholeForRange = false;
    bool sliceForClient = false;
    uint64_t sliceSkip = 0;  ///< body bytes before the range still to drop
    uint64_t sliceLeft = 0;  ///< range bytes still to send
    cache::policy::Evaluation evaluation;
    std::unique_ptr<cache::EntryWriter> writer;
    std::shared_ptr<InFlightFetch> fetch;
    bool leader = false;
    SystemTime requestSentAt;
    SystemTime responseAt;
    // Waiter side of collapsed forwarding.
    UniqueFd waiterFd;
    uint64_t waiterOffset = 0;
    bool waiterHeadSent = false;
    BodyEncoding waiterEncoding = BodyEncoding::kNone;
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
  static void onUpstreamRead(bufferevent*, void* arg) noexcept;
  static void onUpstreamWrite(bufferevent*, void* arg) noexcept;
  static void onUpstreamEvent(bufferevent*, short what, void* arg) noexcept;
  static void onHeadTimer(evutil_socket_t, short, void* arg) noexcept;
  static void onResume(evutil_socket_t, short, void* arg) noexcept;
  static void onCacheWake(evutil_socket_t, short, void* arg) noexcept;
  static void onClientFlush(evutil_socket_t, short, void* arg) noexcept;
  static void onProgressTimer(evutil_socket_t, short, void* arg) noexcept;
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
  void connectUpstream();
  void onUpstreamConnected();
  void onUpstreamFailed(short what);
  void sendRequestHead();
  void pumpRequestBody();

  // response side
  void readResponseHead();
  /// Relays one 1xx (bounded in count and bytes); false when the exchange
  /// was answered with an error instead.
  bool relayInterim(http::ResponseHead head, size_t headBytes);
  void startResponseBody();
  void pumpResponseBody();
  void finishResponseBody();
  void onUpstreamClosed(short what);
  void startTunnel();
  /// Ends a response whose head went out but whose body broke.
  void cutShort(std::string error);

  // cache (session_cache.cpp)
  /// True when the request was answered (hit) or parked (collapsed waiter).
  bool tryCache();
  bool serveStored(const std::shared_ptr<const cache::StoredEntry>& entry, int64_t age,
                   log::CacheResult result);
  /// On a response head: serve a revalidated/stale entry, or start storing.
  /// True when the response was consumed from the cache.
  bool onResponseHeadForCache();
  /// For a Range miss fetched whole: false when the response is too big
  /// or of unknown length (the request went again, with its Range);
  /// otherwise sets up the 206/416 cut and adjusts the client's head.
  bool prepareRangeCut(http::ResponseHead& clientHead, uint64_t& clientLength);
  void teeToCache(evbuffer* body, size_t n);
  void teeToCache(std::string_view bytes);
  bool appendToCache(std::string_view bytes);  ///< false: storing stopped
  void noteLeaderProgress(size_t bytes);
  void finishCacheWrite(bool complete);
  void leaveFetch(InFlightFetch::Phase leaderOutcome);
  void continueWaiting();
  void stopWaitingAndFetch();
  /// Serve a stale entry after an origin failure when the policy allows it.
  bool serveStaleOnError();
  /// DNS failed (the thin link is down): serve a stored copy if the rules
  /// allow this client the address the copy was fetched from, and the copy
  /// is fresh or may be served stale on error.
  bool serveStoredWithoutDns();
  /// The rules for this client allow the address a stored copy (or a
  /// collapsed fetch) came from. Unknown addresses are refused.
  bool mayReadCopyFrom(std::string_view originAddress) const;

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
  void writeToClient(const std::string& bytes);
  /// What to do once the client's output has drained (below the write
  /// watermark): resume the origin, the waiter, or the pending close.
  void onClientDrained();
  /// Between a complete request and the end of its response.
  bool busyWithExchange() const {
    return state_ == State::kResolving || state_ == State::kConnecting ||
           state_ == State::kAwaitingResponse || state_ == State::kRelayingResponse ||
           state_ == State::kWaitingForFetch;
  }
  /// Stops the direct-write path before the bufferevent changes hands.
  void stopDirectWrites();
  void releaseUpstream(bool reusable);

  ProxyContext& context_;
  net::BufferEventPtr client_;
  net::SocketAddress peer_;
  acl::IpAddress clientIp_;
  std::string clientText_;
  net::EventPtr headTimer_;
  net::EventPtr resumeEvent_;
  net::EventPtr cacheWake_;
  /// Direct writes: EV_WRITE on the client stays off while its output is
  /// empty; bytes added schedule clientFlush_, which writes them straight
  /// to the socket at the end of this loop turn (one writev, no epoll_ctl)
  /// and only enables EV_WRITE when the socket did not take everything.
  net::EventPtr clientFlush_;
  net::EventPtr progressTimer_;  ///< a leader's batched wake-up of its waiters
  evbuffer_cb_entry* outputWatch_ = nullptr;
  bool flushScheduled_ = false;
  std::unique_ptr<Tunnel> tunnel_;
  State state_ = State::kReadingHead;
  Transaction txn_;
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
