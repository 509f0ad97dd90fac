#pragma once
// One request to an origin over HTTP/1.1: take a pooled connection or
// connect (the next address on failure), send the head, pump the request
// body, read the response head (1xx relayed, bounded), pick the body reader
// once from the framing (as h2o's http1client installs one read callback)
// and relay the body to the client. Every phase and every transition
// (enter() asserts the table in debug builds and tells the observer):
//
//   (through parents, upstream_parent.cpp: startViaParents() connects to each
//    parent in turn instead of the addresses (a parent given by name is
//    resolved first, in kConnecting; each usable address of it is tried),
//    marking a failed one down, and
//    owner.parentsExhausted() when none connected; the head is in absolute
//    form; a CONNECT is sent on as a CONNECT: kConnecting --connected-->
//    kAwaitingHead (the parent's answer) --2xx--> kDone (the owner takes it))
//   kIdle|kDone --start()--> kConnecting --connected, head sent, no body--> kAwaitingHead
//                              |  |  \--head sent, a body to send--> kSendingBody
//                              |  |        kSendingBody --body sent--> kAwaitingHead
//                              |  |        kSendingBody --final head early--> kRelayingBody
//                              |  \--failed, addresses left: the next address (kConnecting)
//                              \--CONNECT connected--> kDone (the owner takes the connection)
//   kAwaitingHead --1xx: relayed to a 1.1 client (bounded in count and bytes), stays
//   kAwaitingHead --final head--> owner.onResponseHead():
//        relay --> kRelayingBody --body done (reader chosen once from the framing)--> kDone
//        consumed (the cache served a 304 or a stale copy) --> kDone
//        refetch() (a range too large to fetch whole, a 304 that matched nothing)
//                  --> kDone --> kConnecting
//   kAwaitingHead|kSendingBody --a pooled connection closed before any byte, idempotent
//                  request without body, once--> kConnecting (a fresh connection)
//   any --failure (connect, bad or oversized head, 101, 1xx flood, ambiguous framing,
//          origin closed or timed out): owner.upstreamFailed()--> kDone
//   kRelayingBody --body broken: owner.responseBroken(), release()--> kDone
//   any --release()--> kDone
//   kRelayingBody --adopt(): the client left; a BackgroundFill owns the request,
//                  the body is only teed to the cache (same phase)
//
// Runs on the worker's loop thread. Callbacks are noexcept; an exception in
// one is reported to the owner (owner.upstreamAborted()).

#include <event2/buffer.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/config/config.h"
#include "daemon/http/chunked_decoder.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/log/access_record.h"
#include "daemon/net/tls_handles.h"
#include "daemon/proxy/error_page.h"
#include "daemon/proxy/forwarding.h"
#include "daemon/proxy/parent_route.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/upstream_pool.h"

namespace portcullis::proxy {

/// The client's request body as it is read: owned by the exchange, pumped
/// upstream by UpstreamRequest, dropped by the exchange when answered early.
struct RequestBody {
  http::Framing framing;
  http::ChunkedDecoder chunks;
  uint64_t left = 0;
  bool done = true;
};

class UpstreamRequest {
 public:
  enum class Phase : uint8_t {
    kIdle,
    kConnecting,
    kSendingBody,
    kAwaitingHead,
    kRelayingBody,
    kDone
  };

  /// What the request needs from its exchange: the client's side, the
  /// upstream head to send, and where each outcome goes.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual bufferevent* clientEvents() = 0;
    virtual log::AccessRecord& record() = 0;
    virtual void writeToClient(std::string_view bytes) = 0;
    /// The head to send (the cache may ask for validators or the whole object).
    virtual std::string upstreamHead(BodyEncoding bodyEncoding) = 0;
    /// CONNECT: the connection is up; the owner takes it (takeConnection()).
    virtual void upstreamTunnel() = 0;
    /// The final response head arrived (response(), framing()). True: relay
    /// its body (the owner wrote the client's head); false: the owner took
    /// over (served from cache, refetched, failed).
    virtual bool onResponseHead() = 0;
    /// Body bytes for the cache (before any range cut).
    virtual void teeBody(evbuffer* body, size_t n) = 0;
    virtual void teeBody(std::string_view bytes) = 0;
    /// The body was relayed whole.
    virtual void responseComplete() = 0;
    /// The body broke after the head went out (cut the client short).
    virtual void responseBroken(std::string error) = 0;
    /// No usable response: answer `error` (a stale copy first when
    /// `mayServeStale`); `logError` is the access log's `error` when answered.
    virtual void upstreamFailed(ErrorReply error, std::string logError, bool mayServeStale,
                                bool close) = 0;
    /// The client's chunked body was invalid (400).
    virtual void requestBodyInvalid(std::string_view reason) = 0;
    /// An exception escaped a callback: close everything.
    virtual void upstreamAborted() = 0;
    /// startViaParents(): no parent could be connected to (each is marked
    /// down). The exchange goes direct or answers 502 ([parents] never_direct).
    virtual void parentsExhausted(ErrorReply error, std::string logError) {
      upstreamFailed(std::move(error), std::move(logError), true, true);
    }
  };

  UpstreamRequest(ProxyContext& context, Owner& owner);
  ~UpstreamRequest();
  UpstreamRequest(const UpstreamRequest&) = delete;
  UpstreamRequest& operator=(const UpstreamRequest&) = delete;

  /// Starts the exchange's request to one of `addresses` (checked by the
  /// admission already). `request`, `target` and `body` outlive this request.
  void start(std::shared_ptr<const config::Config> config, const http::RequestHead& request,
             const http::Target& target, RequestBody& body, std::vector<acl::IpAddress> addresses);
  /// The same through `parents` in order (parent_route.h): none of the
  /// target's addresses is connected to.
  void startViaParents(std::shared_ptr<const config::Config> config,
                       const http::RequestHead& request, const http::Target& target,
                       RequestBody& body, std::vector<ParentHop> parents);
  /// The parent in use (connecting or connected); null = direct.
  const ParentHop* parent() const { return parent_; }
  /// Sends the request again on a new connection to the last address (a
  /// 304 that matched nothing, a range too large to fetch whole); the
  /// current one goes back to the pool when `reusable`.
  void refetch(bool reusable);
  /// Gives the connection back (to the pool when `reusable`) and ends.
  void release(bool reusable);
  /// Client input arrived while the body is being sent.
  void onClientReadable();
  /// The client drained below its watermark: read the origin again.
  void resumeReading();
  /// Cuts the body the client gets to [skip, skip+length) (a range served
  /// from a whole fetch); the owner's tee still sees everything.
  void cutForClient(uint64_t skip, uint64_t length);
  /// The client went away mid-body and `owner` (a BackgroundFill) takes
  /// the request over with its own copies of `request`, `target` and
  /// `body`: the body is then only teed (the owner has no client, its
  /// clientEvents() is null) and reading resumes if backpressure stopped it.
  void adopt(Owner& owner, const http::RequestHead& request, const http::Target& target,
             RequestBody& body);
  /// Response body bytes still to come (Content-Length framing).
  uint64_t bodyLeft() const { return bodyLeft_; }

  Phase phase() const { return phase_; }
  bool active() const { return phase_ != Phase::kIdle && phase_ != Phase::kDone; }
  const http::ResponseHead& response() const { return response_; }
  const http::Framing& framing() const { return framing_; }
  BodyEncoding clientEncoding() const { return clientEncoding_; }
  bool reusable() const { return reusable_; }
  SystemTime requestSentAt() const { return requestSentAt_; }
  /// The origin's address as text ("" when not connected).
  std::string originAddress() const;
  /// CONNECT: the established connection.
  std::unique_ptr<UpstreamConnection> takeConnection();
  static std::string_view phaseName(Phase p);

 private:
  using BodyReader = bool (UpstreamRequest::*)(evbuffer* in, evbuffer* out);

  static bool transitionAllowed(Phase from, Phase to);
  void enter(Phase to);
  template <class Body>
  static void guarded(void* arg, Body&& body) noexcept {
    auto* self = static_cast<UpstreamRequest*>(arg);
    try {
      body(self);
    } catch (...) {
      self->owner_->upstreamAborted();
    }
  }
  static void onRead(bufferevent*, void* arg) noexcept;
  static void onWrite(bufferevent*, void* arg) noexcept;
  static void onEvent(bufferevent*, short what, void* arg) noexcept;

  void reset(std::shared_ptr<const config::Config> config, const http::RequestHead& request,
             const http::Target& target, RequestBody& body);
  void connect();
  void connectTo(const net::SocketAddress& address);
  /// The last address or parent again (a refetch, a stale pooled connection).
  void rewind();
  // through parents (upstream_parent.cpp)
  void connectParent();
  /// A parent given by name: resolve it (the worker's resolver and its
  /// TTL-honouring cache), then connect to the first usable address.
  void resolveParent();
  void onParentResolved(const net::DnsAnswer& answer);
  /// The next of parentAddresses_ (the hop's address becomes it).
  void connectParentAddress();
  void cancelParentDns();
  /// `tlsError`: why the TLS handshake failed; `addressError`: why the
  /// parent has no address to connect to (DNS, hard:self); both "" = the
  /// TCP connect failed.
  void parentConnectFailed(bool timedOut, std::string tlsError = {}, std::string addressError = {});
  /// The SSL for parent_ (pendingSsl_); false when it cannot be made.
  bool prepareParentTls();
  /// The pool key of a connection to TLS parent `hop` (upstream_pool.h).
  static std::string parentPoolKey(const ParentHop& hop);
  /// TCP_NODELAY on a socket bufferevent (not a TLS filter: no descriptor).
  static void setNoDelay(bufferevent* bev);
  /// The TCP connection to a TLS parent is up: wrap it in TLS, handshake.
  void startParentTls();
  /// A TLS parent answered on a new connection: keep its session to resume.
  void rememberParentSession();
  /// Why the TLS handshake on conn_ failed; "" when it was not TLS's fault.
  std::string parentTlsError();
  void sendTunnelRequest();
  void readTunnelReply();
  void onConnected();
  void onConnectFailed(short what);
  void sendHead();
  void pumpRequestBody();
  void readHead();
  /// The response head at the front of `in`, parsed in place; kNeedMore
  /// until it is whole, and a 502 outcome once it exceeds max_header_bytes.
  http::ParseOutcome parseInputHead(evbuffer* in, http::ResponseHead& head) const;
  bool relayInterim(http::ResponseHead head, size_t headBytes);
  void onFinalHead();
  void pumpBody();
  bool readContentLength(evbuffer* in, evbuffer* out);
  bool readChunked(evbuffer* in, evbuffer* out);
  bool readUntilClose(evbuffer* in, evbuffer* out);
  bool readNone(evbuffer* in, evbuffer* out);
  void finishBody();
  void onClosed(short what);
  void fail(ErrorReply error, std::string logError, bool mayServeStale, bool close);

  ProxyContext& context_;
  Owner* owner_;  ///< the exchange, or the BackgroundFill that adopted the request
  Phase phase_ = Phase::kIdle;
  std::shared_ptr<const config::Config> config_;
  const http::RequestHead* request_ = nullptr;
  const http::Target* target_ = nullptr;
  RequestBody* body_ = nullptr;
  std::vector<acl::IpAddress> addresses_;
  size_t nextAddress_ = 0;
  std::vector<ParentHop> parents_;  ///< empty: direct to addresses_
  size_t nextParent_ = 0;
  const ParentHop* parent_ = nullptr;            ///< into parents_
  uint64_t parentDnsTicket_ = 0;                 ///< the parent's name is being resolved
  std::vector<acl::IpAddress> parentAddresses_;  ///< parent_'s usable addresses
  size_t nextParentAddress_ = 0;
  bool tunnelHandshake_ = false;  ///< CONNECT sent to a parent, its answer awaited
  std::string tlsSetupError_;     ///< prepareParentTls() could not make an SSL
  net::SslPtr pendingSsl_;        ///< TLS parent: wraps conn_ once TCP connects
  bool tlsHandshaking_ = false;   ///< the TLS handshake with the parent is running
  std::unique_ptr<UpstreamConnection> conn_;
  bool retried_ = false;
  bool bytesSeen_ = false;
  /// first_byte_timeout counts from the request, not from the last 1xx.
  std::chrono::steady_clock::time_point firstByteDeadline_;
  unsigned interimCount_ = 0;
  size_t interimBytes_ = 0;
  SystemTime requestSentAt_;
  http::ResponseHead response_;
  http::Framing framing_;
  BodyEncoding clientEncoding_ = BodyEncoding::kNone;
  http::ChunkedDecoder chunks_;
  uint64_t bodyLeft_ = 0;
  bool reusable_ = false;
  BodyReader reader_ = nullptr;  ///< chosen once from the framing
  bool cut_ = false;
  uint64_t cutSkip_ = 0;  ///< body bytes before the client's range still to drop
  uint64_t cutLeft_ = 0;  ///< range bytes still to send
  std::string scratch_;
};

}  // namespace portcullis::proxy
