#pragma once
// One request and its response, from a parsed head to the access-log line.
// It owns its config snapshot and the parts that do the work: the cache
// stage (cache_stage.h), the collapsed-forwarding waiter (fetch_waiter.h)
// and the request to the origin (upstream_request.h); the client
// connection (client_connection.h) reads the head and carries the bytes.
// Every phase and transition (enter() asserts the table in debug builds and
// tells the observer):
//
//   (transparent mode, exchange_transparent.cpp: the target is Host + path or the SNI,
//    checked against the original destination in kAdmission and again after DNS,
//    and only the destination is connected to; a TLS refusal closes without a byte)
//
//   kIdle --begin(head)--> kAdmission: Host, framing, [[limit]] rate, identity
//     |                     (Proxy-Authorization: cached, or checked on the verifier
//     |                     pool while the exchange waits here), target form,
//     |                     Policy::evaluate (hard rules included), Via loop,
//     |                     https without CONNECT, Max-Forwards 0 (answered here)
//     |                        |  \--refused or answered---------------------------------> kDone
//     |                        v
//     |                     (a [[parent]] for it, and the rules decided by name: no DNS,
//     |                      kResolving --> kCache at once; exchange_parent.cpp)
//     |                     kResolving (async DNS) --DNS failed: a stored copy allowed
//     |                        |                      without DNS is served, else 502/504-> kDone
//     |                        |  \--an address refused by Policy::evaluate: 403-----------> kDone
//     |                        v  (every address allowed)
//     |                     kCache: CacheStage::lookup()
//     |                        |  \--hit / 304 / 412 / only-if-cached 504-----------------> kDone
//     |                        |  \--collapsed waiter--> kWaiting --leader's body streamed-> kDone
//     |                        |  \--sliced object / range probe--> kSliced (SlicedFetch)
//     |                        |        --served from slices, or cut short-----------------> kDone
//     |                        |        --origin does not do ranges, nothing sent: kFetching
//     |                        |                           \--may not share: fetch alone
//     |                        v                              (addresses already allowed)
//     |                     kFetching <---------------------------/
//     |                        |  \--a range fetched whole turns out too big, sliceable--> kSliced
//     |                        |  \--no parent connected, direct allowed, not resolved-> kResolving
//     |                        |  UpstreamRequest: connect, send, 1xx, head, body (its own
//     |                        |  phases); the cache stage may serve a 304/stale instead
//     |                        |  \--CONNECT: connected, 200 sent--> kTlsCheck (SniCheck reads
//     |                        |     the ClientHello; sni_check off: straight to kTunnel)
//     |                        |       |--SNI passed--> kTunnel (Tunnel) --closed---------> kDone
//     |                        |       \--refused (hard:sni-mismatch, sni:*): closed------> kDone
//     |                        \--response relayed / error answered / body broken----------> kDone
//     \--refuseHead(): the head itself was bad (400/408/431): answered--------------------> kDone
//   any --abandon(): the connection closes; the record is logged once----------------------> kDone
//     (kFetching while storing: the fetch and the cache write may go on without the client,
//      in a BackgroundFill: background_fill.h)
//   kDone --begin(head): the next request on a kept-alive connection---------------------->
//   kAdmission
//
// Every ending goes through one Termination kind (termination.h): the
// status, the page, Proxy-Status, the log's `termination` and the counters.
// On the worker's loop thread only.

#include <event2/buffer.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "acl/policy.h"
#include "daemon/auth/verifier_pool.h"
#include "daemon/config/config.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/log/access_record.h"
#include "daemon/net/host_resolver.h"
#include "daemon/proxy/cache_stage.h"
#include "daemon/proxy/error_page.h"
#include "daemon/proxy/fetch_waiter.h"
#include "daemon/proxy/parent_route.h"
#include "daemon/proxy/proxy_auth.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/sliced_fetch.h"
#include "daemon/proxy/sni_check.h"
#include "daemon/proxy/transparent_target.h"
#include "daemon/proxy/tunnel.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

class Exchange final : private UpstreamRequest::Owner,
                       private CacheStage::Owner,
                       private FetchWaiter::Owner,
                       private SniCheck::Owner,
                       private SlicedFetch::Owner {
 public:
  enum class Phase : uint8_t {
    kIdle,
    kAdmission,
    kResolving,
    kCache,
    kWaiting,
    kSliced,
    kFetching,
    kTlsCheck,
    kTunnel,
    kDone
  };

  /// What the exchange needs from its client connection.
  class Connection {
   public:
    virtual ~Connection() = default;
    virtual bufferevent* clientEvents() = 0;
    virtual const acl::IpAddress& clientIp() const = 0;
    virtual const std::string& clientText() const = 0;
    /// The load balancer that relayed the connection ("ip:port", PROXY
    /// protocol); empty when the client connected directly.
    virtual const std::string& balancerText() const {
      static const std::string kNone;
      return kNone;
    }
    /// Where a connection redirected to a transparent listener was going;
    /// null for a client that uses the proxy explicitly.
    virtual const TransparentDestination* transparent() const { return nullptr; }
    /// The client came in on a [server] listen_tls port.
    virtual bool overTls() const = 0;
    virtual bool draining() const = 0;
    /// Takes a token from the client's [[limit]] request rate; false (and
    /// the limit's name in `limitName`) when over it.
    virtual bool takeRequestToken(std::string& limitName) = 0;
    /// A refusal by the rules, counted against the client (abuse guard).
    virtual void noteRefusal() = 0;
    /// The exchange is over; the connection reads the next head (keepAlive) or closes.
    virtual void exchangeFinished(bool keepAlive) = 0;
    /// The response broke after its head went out: send what is queued, then close.
    virtual void closeAfterFlush() = 0;
    virtual void closeNow() = 0;
    /// CONNECT: hand the client and `upstream` to a Tunnel.
    virtual void startTunnel(std::unique_ptr<UpstreamConnection> upstream) = 0;
  };

  Exchange(ProxyContext& context, Connection& connection);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  /// A parsed request head of `headBytes` under `config` (the live snapshot).
  void begin(std::shared_ptr<const config::Config> config, http::RequestHead head,
             size_t headBytes);
  /// The head could not be read: answer `error` (built-in page); `bytesIn`
  /// (when not 0) is what was read of an invalid head.
  void refuseHead(ErrorReply error, size_t bytesIn);
  /// The connection is closing: log once, stop every part.
  void abandon();
  /// The client went away (or timed out) during this exchange.
  void clientGone(bool timedOut);
  /// Client input arrived (a request body being sent upstream).
  bool onClientReadable();
  /// The client's output drained below its watermark.
  void onClientDrained();
  /// The client stopped sending its request body.
  bool onClientBodyTimeout();
  /// Transparent TLS: the first bytes were not a ClientHello naming a
  /// server; refused by `rule` (nothing is sent), logged (exchange_transparent.cpp).
  void refuseTransparentTls(std::string_view rule, std::string detail);
  /// The tunnel ended with these totals.
  void tunnelClosed(const Tunnel::Totals& totals);
  /// An open tunnel or a response still streaming, judged again under
  /// `policy` at `now` (after a reload, at a schedule or `until` edge:
  /// exchange_recheck.cpp). When the rules no longer allow it, the record
  /// says closed_by_policy and names the rule that now decides, and the
  /// decision is returned: the caller closes the connection. Otherwise nullopt.
  std::optional<acl::Decision> recheck(const acl::Policy& policy, SystemTime now);

  Phase phase() const { return phase_; }
  /// Between a complete request and the end of its response: a client's
  /// half-close then waits for the answer. Not while its body is still being
  /// sent (an EOF there ends the exchange: the request is incomplete).
  bool busy() const {
    if (phase_ == Phase::kFetching) {
      return upstream_->phase() != UpstreamRequest::Phase::kSendingBody;
    }
    return phase_ == Phase::kResolving || phase_ == Phase::kCache || phase_ == Phase::kWaiting ||
           phase_ == Phase::kSliced;
  }
  bool logged() const { return !active_; }
  static std::string_view phaseName(Phase p);

  // The owners' side shared by the parts (public for the Connection's use too).
  log::AccessRecord& record() override { return record_; }
  void writeToClient(std::string_view bytes) override;

 private:
  static bool transitionAllowed(Phase from, Phase to);
  void enter(Phase to);

  // identity (exchange_identity.cpp): false when answered or waiting for
  // the verifier pool (admit() continues then)
  bool identify();
  bool identifyLdap(const BasicCredentials& credentials, SteadyTime now);
  /// `ldap`: the directory's answer (groups, error) for an LDAP login; null
  /// for the users file.
  void onVerified(auth::VerifyResult result, CredentialCache::Key key, std::string user,
                  std::shared_ptr<const auth::LdapAnswer> ldap = nullptr);
  void loginFailed(std::string_view why);
  void challenge(std::string message, std::string detail);
  void ldapUnavailable(const auth::LdapAnswer& answer);
  void setUser(const std::string& user, const std::vector<std::string>& extraGroups = {});
  void countTowardBlock();
  bool credentialsAllowedHere() const;
  /// After identity: target checks, the name-based ACL, DNS.
  void admit();

  // admission and DNS (exchange.cpp)
  bool checkRequest();
  bool checkTarget();
  /// The explicit proxy's target: absolute-form, or authority-form for CONNECT.
  bool proxyTarget();
  bool admitted(const acl::Decision& decision);
  // transparent mode (exchange_transparent.cpp)
  /// A redirected connection's target: Host + path (HTTP) or the SNI (TLS),
  /// checked against the original destination before DNS.
  bool transparentTarget(const TransparentDestination& dst);
  /// After DNS: the destination must be among the name's addresses; then
  /// only the destination is connected to. False when refused.
  bool transparentAddresses(const TransparentDestination& dst,
                            std::vector<acl::IpAddress>& addresses);
  void hostMismatch(const TransparentDestination& dst, std::string detail);
  bool silentReplies() const {
    const auto* t = connection_.transparent();
    return t != nullptr && t->tls;
  }
  void answerMaxForwards();
  void resolve();
  void startDns();
  void onResolved(const net::DnsAnswer& answer);
  // parent proxies (exchange_parent.cpp)
  /// Which parents this admitted request goes through (parents_).
  void routeParents();
  /// Through a parent without DNS: the cache, then the parent. False when
  /// the request must be resolved first (direct, or rules that depend on
  /// the addresses).
  bool skipDnsForParent();
  void parentsExhausted(ErrorReply error, std::string logError) override;
  bool mayFetchSlices() const override { return parents_.empty(); }
  /// The name to resolve: the target's, or its [[safe_search]] forced-safe
  /// name (exchange_safe_search.cpp), which then also bypasses the cache.
  std::string resolveName();
  acl::RequestFacts requestFacts() const;
  acl::Decision checkAddresses(const std::vector<acl::IpAddress>& addresses) const;
  void startUpstream();
  void denied(const acl::Decision& decision);

  // endings (exchange_finish.cpp)
  void reply(ErrorReply error, bool close = true);
  void finish();
  bool discardRequestBody();
  void log();
  void leaveCache(InFlightFetch::Phase outcome);
  /// The client left while this exchange was storing a response: hand the
  /// fetch and the cache write to a BackgroundFill when it may finish them.
  void handOverFill();

  // UpstreamRequest::Owner (exchange_parts.cpp)
  bufferevent* clientEvents() override { return connection_.clientEvents(); }
  std::string upstreamHead(BodyEncoding bodyEncoding) override;
  std::string originHead(BodyEncoding bodyEncoding);
  void upstreamTunnel() override;
  bool onResponseHead() override;
  void teeBody(evbuffer* body, size_t n) override { cache_->tee(body, n); }
  void teeBody(std::string_view bytes) override { cache_->tee(bytes); }
  void responseComplete() override;
  void responseBroken(std::string error) override;
  void upstreamFailed(ErrorReply error, std::string logError, bool mayServeStale,
                      bool close) override;
  void requestBodyInvalid(std::string_view reason) override;
  void upstreamAborted() override { connection_.closeNow(); }

  // CacheStage::Owner and FetchWaiter::Owner (exchange_parts.cpp)
  evbuffer* clientOutput() override { return bufferevent_get_output(clientEvents()); }
  bool keepAlive() const override { return keepAlive_; }
  acl::Decision admitAddresses(const std::vector<acl::IpAddress>& addresses) const override {
    return checkAddresses(addresses);
  }
  void servedFromCache() override { finish(); }
  void answer(ErrorReply error, bool close) override { reply(std::move(error), close); }
  event* waiterWake() override { return waiter_.wake(); }
  void waitForFetch(std::shared_ptr<InFlightFetch> fetch) override;
  void endKeepAlive() override { keepAlive_ = false; }
  bool mayReadCopyFrom(std::string_view originAddress) const override {
    return cache_->mayReadCopyFrom(originAddress);
  }
  void waiterFinished() override { finish(); }
  void waiterFallBack() override;
  void waiterBroken() override { connection_.closeNow(); }
  void serveSliced(std::string primaryKey,
                   std::shared_ptr<const cache::StoredEntry> descriptor) override;
  // SlicedFetch::Owner (exchange_parts.cpp)
  void slicedFinished() override { finish(); }
  void slicedFallBack() override;
  void slicedBroken() override { connection_.closeNow(); }

  // SniCheck::Owner (exchange_sni.cpp)
  acl::Decision admitSniName(const std::string& host,
                             const std::vector<acl::IpAddress>& addresses) const override;
  void sniPassed(std::unique_ptr<UpstreamConnection> upstream) override;
  void sniRefused(const SniVerdict& verdict) override;
  void sniRead(const tls::ClientHello& hello) override;
  /// After the 200: the SNI check, or the tunnel at once when it is off.
  void openTunnel(std::unique_ptr<UpstreamConnection> upstream);

  ProxyContext& context_;
  Connection& connection_;
  Phase phase_ = Phase::kIdle;
  std::shared_ptr<const config::Config> config_;  ///< this request's snapshot
  http::RequestHead request_;
  http::Target target_;
  RequestBody body_;
  std::vector<acl::IpAddress> addresses_;
  std::vector<ParentHop> parents_;  ///< this request's parents in order; empty = direct
  bool addressesDecide_ = false;    ///< the name's allow depends on the addresses
  bool directFallback_ = false;     ///< no parent connected: direct now
  std::optional<config::SafeSearchSubstitution> safeSearch_;  ///< this request's, if any
  uint64_t dnsTicket_ = 0;
  uint64_t verifyTicket_ = 0;        ///< a password check on the pool, or 0
  std::string user_;                 ///< the logged-in user; "" = anonymous
  std::vector<std::string> groups_;  ///< user_'s groups under config_
  bool keepAlive_ = true;
  bool active_ = false;  ///< started and not yet logged
  std::chrono::steady_clock::time_point started_;
  log::AccessRecord record_;
  // On the heap: a fill whose client left moves both to a BackgroundFill
  // (background_fill.h), and the exchange takes fresh ones.
  std::unique_ptr<UpstreamRequest> upstream_ =
      std::make_unique<UpstreamRequest>(context_, static_cast<UpstreamRequest::Owner&>(*this));
  std::unique_ptr<CacheStage> cache_ =
      std::make_unique<CacheStage>(context_, static_cast<CacheStage::Owner&>(*this));
  FetchWaiter waiter_{context_, *this};
  std::unique_ptr<SniCheck> sni_;  ///< made by the first CONNECT that is checked
  /// Made on the first sliced request of the connection: most connections
  /// never need one, and an idle keep-alive connection should stay small.
  std::unique_ptr<SlicedFetch> sliced_;
};

}  // namespace portcullis::proxy
