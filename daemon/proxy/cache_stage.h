#pragma once
// The cache's part in one exchange: look up (after admission allowed every
// resolved address), serve a stored response (RAM copy, sendfile, a range
// cut, 304/412 to the client's conditionals), revalidate, store the
// origin's response while it is relayed (tee), lead a collapsed fetch
// (announcing progress to waiters, see fetch_waiter.h for the other side),
// serve stale on an origin error and serve without DNS. A copy is served
// only when the rules allow this client the address it was fetched from.
// Every phase and transition (enter() asserts the table in debug builds and
// tells the observer):
//
//   kIdle --lookup(): off, or not GET/HEAD------------------------------------------> kDone
//     |  \--fresh, or 304/412 to the client's conditionals--> kServing -------------> kDone
//     |                                   (body unreadable: back to kIdle, a miss)
//     |  \--only-if-cached and nothing usable: 504 ----------------------------------> kDone
//     |  \--stale--> kRevalidating --304 matches--> kServing (merged head) ----------> kDone
//     |                  |   \--5xx or origin failure, stale allowed--> kServing ---> kDone
//     |                  |   \--304 matches nothing: refetch--> kFetching
//     |                  \--new response--> kStoring (or kDone: not storable)
//     \--miss--> kFetching (a sliced object or a range probe: SlicedFetch serves it;
//                   |        else alone, as the leader of a collapsed fetch, or as a waiter:
//                   |        FetchWaiter streams the leader's body; a waiter that may
//                   |        not share fetches alone, still kFetching)
//                   |--not storable------------------------------------------------> kDone
//                   v
//                kStoring --body whole: commit; broken or too big: abort------------> kDone
//   kStoring --adopt(): the client left; a BackgroundFill stores on (same phase;
//                   for a 200 stored as slices by SlicedWriter, to the end of the slice)
//   kIdle --serveWithoutDns(): DNS failed, the copy's address allowed--> kServing --> kDone
//   any --end(): the exchange is over----------------------------------------------> kDone
//   any --begin(): the next request on the connection-------------------------------> kIdle
//
// On the worker's loop thread only.

#include <event2/buffer.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acl/ip_address.h"
#include "acl/policy.h"
#include "cache/cache.h"
#include "cache/policy/freshness.h"
#include "cache/sliced_writer.h"
#include "daemon/config/config.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/log/access_record.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/error_page.h"
#include "daemon/proxy/proxy_context.h"

namespace portcullis::proxy {

class UpstreamRequest;

/// The cache policy's options for one request: serve-stale-on-error and the
/// [[cache.refresh]] rule (if any) that matches its URL.
cache::policy::PolicyOptions cachePolicyOptions(const config::Config& config,
                                                const http::Target& target);

class CacheStage {
 public:
  enum class Phase : uint8_t { kIdle, kServing, kRevalidating, kFetching, kStoring, kDone };

  /// What the cache stage needs from its exchange.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual evbuffer* clientOutput() = 0;
    virtual void writeToClient(std::string_view bytes) = 0;
    virtual log::AccessRecord& record() = 0;
    virtual bool keepAlive() const = 0;
    /// The destination rules for this client on `addresses` (hard rules included).
    virtual acl::Decision admitAddresses(const std::vector<acl::IpAddress>& addresses) const = 0;
    /// A stored response (or a 304) went out whole: end the exchange.
    virtual void servedFromCache() = 0;
    /// Answer with an error page instead (504 only-if-cached, 412).
    virtual void answer(ErrorReply error, bool close) = 0;
    /// The event a collapsed waiter is woken through.
    virtual event* waiterWake() = 0;
    /// Joined another client's fetch as a waiter: stream it (FetchWaiter).
    virtual void waitForFetch(std::shared_ptr<InFlightFetch> fetch) = 0;
    /// A sliced object (or a range miss to probe for one): SlicedFetch
    /// serves it from slices of the object under `primaryKey`.
    /// False when the request goes through a parent proxy: slices are
    /// fetched from origins only, so such objects are stored whole.
    virtual bool mayFetchSlices() const { return true; }
    virtual void serveSliced(std::string primaryKey,
                             std::shared_ptr<const cache::StoredEntry> descriptor) = 0;
  };

  CacheStage(ProxyContext& context, Owner& owner);
  ~CacheStage();
  CacheStage(const CacheStage&) = delete;
  CacheStage& operator=(const CacheStage&) = delete;

  /// A new request; `request`, `target` and `addresses` (the allowed
  /// resolved addresses, empty until DNS answered) outlive the exchange.
  void begin(std::shared_ptr<const config::Config> config, const http::RequestHead& request,
             const http::Target& target, const std::vector<acl::IpAddress>& addresses);
  /// True when the request was answered (hit, 504, 412) or parked (waiter).
  bool lookup();
  /// DNS failed (the thin link is down): serve a stored copy if the rules
  /// allow this client the address the copy was fetched from, and the copy
  /// is fresh or may be served stale on error.
  bool serveWithoutDns();
  /// Serve a stale entry after an origin failure when the policy allows it.
  bool serveStaleOnError(UpstreamRequest& upstream);
  /// For a Range miss fetched whole: false when the response is too big
  /// or of unknown length (the request went again, with its Range);
  /// otherwise sets up the 206/416 cut and adjusts the client's head.
  bool prepareRangeCut(UpstreamRequest& upstream, http::ResponseHead& clientHead,
                       uint64_t& clientLength, bool& cut);
  /// On a response head: serve a revalidated/stale entry, or start storing.
  /// True when the response was consumed from the cache.
  bool onResponseHead(UpstreamRequest& upstream);
  /// The response body as it passes (stored unless storing stopped).
  void tee(evbuffer* body, size_t n);
  void tee(std::string_view bytes);
  /// Commits (complete) or aborts what was stored; ends a lead.
  void finishWrite(bool complete);
  /// Ends this exchange's lead of a collapsed fetch with `outcome`.
  void leaveFetch(InFlightFetch::Phase outcome);
  /// The rules for this client allow the address a stored copy (or a
  /// collapsed fetch) came from. Unknown addresses are refused.
  bool mayReadCopyFrom(std::string_view originAddress) const;
  /// The client left mid-body and `owner` (a BackgroundFill) takes the
  /// stage over, storing (and leading waiters) on, with its own copies of
  /// `request`, `target` and `addresses`.
  void adopt(Owner& owner, const http::RequestHead& request, const http::Target& target,
             const std::vector<acl::IpAddress>& addresses);
  /// Ends the stage: what was being stored is aborted, a lead ends with
  /// `leadOutcome` (unless storing already ended it), the timer stops.
  void end(InFlightFetch::Phase leadOutcome);

  /// Storing a 200 as slices: bytes until the slice being written is whole
  /// (a fill after the client left finishes that slice, not the object).
  std::optional<uint64_t> sliceLeft() const {
    if (!sliced_) return std::nullopt;
    return sliced_->leftInSlice();
  }
  bool fetchWholeForRange() const { return fetchWholeForRange_; }
  /// The entry being revalidated (its validators go upstream), or null.
  const cache::StoredEntry* revalidating() const { return stored_.get(); }
  Phase phase() const { return phase_; }
  static std::string_view phaseName(Phase p);

 private:
  static bool transitionAllowed(Phase from, Phase to);
  void enter(Phase to);
  static void onProgressTimer(evutil_socket_t, short, void* arg) noexcept;
  bool joinFetch();
  bool trySliced();
  /// The client's conditionals against `entry`: answered 304 or 412 (true), or not.
  bool answerConditional(const cache::StoredEntry& entry, int64_t age, log::CacheResult result);
  bool serveStored(const std::shared_ptr<const cache::StoredEntry>& entry, int64_t age,
                   log::CacheResult result);
  bool writeStoredBody(const cache::StoredEntry& entry, const cache::SharedBody& inMemory,
                       UniqueFd& file, uint64_t offset, uint64_t length);
  bool revalidated(UpstreamRequest& upstream);
  void startStoring(UpstreamRequest& upstream);
  bool startSliced(UpstreamRequest& upstream);
  bool append(std::string_view bytes);  ///< false: storing stopped
  void noteProgress(size_t bytes);

  ProxyContext& context_;
  Owner* owner_;  ///< the exchange, or the BackgroundFill that adopted the stage
  Phase phase_ = Phase::kIdle;
  std::shared_ptr<const config::Config> config_;
  const http::RequestHead* request_ = nullptr;
  const http::Target* target_ = nullptr;
  const std::vector<acl::IpAddress>* addresses_ = nullptr;
  bool eligible_ = false;  ///< GET/HEAD through an enabled cache
  std::string key_;
  std::shared_ptr<const cache::StoredEntry> stored_;  ///< entry being revalidated
  cache::policy::Evaluation evaluation_;
  /// A Range miss fetched whole (cache.range_fetch_whole_max): the client
  /// gets only its range, cut from the body as it streams past.
  bool fetchWholeForRange_ = false;
  std::unique_ptr<cache::EntryWriter> writer_;
  /// A 200 above cache.slice_above stored as slices while it streams.
  std::unique_ptr<cache::SlicedWriter> sliced_;
  SystemTime responseAt_;
  std::shared_ptr<InFlightFetch> fetch_;  ///< the collapsed fetch this exchange leads
  uint64_t unannouncedBytes_ = 0;         ///< stored but not yet announced to waiters
  net::EventPtr progressTimer_;           ///< a leader's batched wake-up of its waiters
};

}  // namespace portcullis::proxy
