#pragma once
// Sliced storage, the proxy's part: serves a GET (whole, or one byte range)
// of a large object from fixed-size slices, each an ordinary cache entry
// (cache/policy/slice_plan.h has the keys and the checks), fetching the
// missing slices from the origin with Range + If-Range and streaming them
// to the client in order as they arrive. Concurrent requests for the same
// slice share one fetch (CollapsedForwarding keyed by the slice key: the
// leader stores the slice, the others read the growing file). A first
// range miss on an unknown object asks the origin for the aligned slice
// (the probe); a 206 with a total length and a validator makes the object
// sliced (its descriptor is stored), anything else falls back to the
// exchange's ordinary path (logged `slice: "unsupported"`). A slice of
// another version than the descriptor's (the object changed) invalidates
// the descriptor and the old slices; the client then gets the ordinary
// path when nothing was sent yet, else a clean close: never mixed bytes.
// Every phase and transition (enter() asserts the table in debug builds and
// tells the observer as part "sliced"):
//
//   kIdle --start(descriptor)--> kReading
//   kIdle --start(no descriptor)--> kProbing --206, length, validator: descriptor
//     |                               |         stored, head sent--> kFetching
//     |                               \--200, no length/validator, error: fall back----> kDone
//   kReading --slice stored (and its origin address allowed): sent from the file, stays
//   kReading --slice missing, nobody fetching it: lead the fetch--> kFetching
//   kReading --slice being fetched by another client--> kJoined
//   kReading --every byte of the client's range sent--> kDone (finished)
//   kFetching --slice stored and streamed--> kReading
//   kFetching --200 to If-Range, other version: invalidated; fall back or close--> kDone
//   kFetching --origin failed / body broken: fall back (nothing sent) or close--> kDone
//   kJoined --the leader's slice streamed--> kReading
//   kJoined --the leader failed / its address not allowed here: fetch it--> kReading
//   any --leave(): the exchange ended--> kDone
//   kDone --start(): the next request on the connection--> kReading / kProbing
//
// When the client leaves in kFetching (leave(), the exchange abandoned),
// the slice being fetched is finished without it (cache.fill_after_abort):
// the upstream request, the slice's writer and the lead of its collapsed
// fetch go to a BackgroundFill (a SliceFillStore), so the clients that
// joined the slice keep streaming it and the next one finds it stored. The
// fetch stores the whole slice anyway (cut for the client), so the fill
// only goes on reading; the client's other slices are not fetched.
// On the worker's loop thread only.

#include <event2/buffer.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acl/ip_address.h"
#include "cache/entry_writer.h"
#include "cache/policy/slice_plan.h"
#include "cache/stored_entry.h"
#include "daemon/config/config.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/log/access_record.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

class SlicedFetch final : private UpstreamRequest::Owner {
 public:
  enum class Phase : uint8_t { kIdle, kProbing, kReading, kFetching, kJoined, kDone };

  /// What a sliced fetch needs from its exchange.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual bufferevent* clientEvents() = 0;
    virtual evbuffer* clientOutput() = 0;
    virtual log::AccessRecord& record() = 0;
    virtual void writeToClient(std::string_view bytes) = 0;
    virtual bool keepAlive() const = 0;
    /// The rules for this client allow the address a slice came from.
    virtual bool mayReadCopyFrom(std::string_view originAddress) const = 0;
    /// The response went out whole: end the exchange.
    virtual void slicedFinished() = 0;
    /// Nothing was sent: serve the request the ordinary way.
    virtual void slicedFallBack() = 0;
    /// The body cannot be completed after its head went out: close.
    virtual void slicedBroken() = 0;
  };

  SlicedFetch(ProxyContext& context, Owner& owner);
  ~SlicedFetch();
  SlicedFetch(const SlicedFetch&) = delete;
  SlicedFetch& operator=(const SlicedFetch&) = delete;

  /// Whether a GET that missed may probe for slicing: one byte range, not
  /// a suffix (the total is not known yet), and (when `beyondWholeMax`)
  /// beyond what cache.range_fetch_whole_max fetches whole.
  static bool mayProbe(const http::RequestHead& request, const config::CacheConfig& cache,
                       bool beyondWholeMax = true);

  /// Serves `request` (GET or HEAD) of the object under `primaryKey`:
  /// from `descriptor` (a fresh descriptor entry the client may read), or
  /// probing when it is null. `request`, `target` and `addresses` (the
  /// allowed addresses) outlive the fetch.
  void start(std::shared_ptr<const config::Config> config, const http::RequestHead& request,
             const http::Target& target, const std::vector<acl::IpAddress>& addresses,
             std::string primaryKey, std::shared_ptr<const cache::StoredEntry> descriptor);
  /// The client drained below its watermark: send more.
  void proceed();
  /// Stops (the exchange ended): a slice being fetched is handed to a
  /// background fill when fill_after_abort allows it, else abandoned.
  void leave();
  bool active() const { return phase_ != Phase::kIdle && phase_ != Phase::kDone; }
  Phase phase() const { return phase_; }
  static std::string_view phaseName(Phase p);

 private:
  static bool transitionAllowed(Phase from, Phase to);
  /// Stops; `handOver`: a slice being fetched may go on without the client.
  void stop(bool handOver);
  void handOverSlice();
  void enter(Phase to);
  static void onWake(evutil_socket_t, short, void* arg) noexcept;
  void schedule();
  void step();
  bool planClientRange(const http::ResponseHead& objectHead);
  void sendHead();
  bool serveStoredSlice(uint64_t index);
  void fetchSlice(uint64_t index);
  void streamJoined();
  void leaveJoined();
  void endLead(InFlightFetch::Phase outcome);
  bool acceptProbe(const http::ResponseHead& response);
  void objectChanged();
  void fallBackOrClose(std::string_view why);
  void finishOk();
  uint64_t clientWantEnd(uint64_t index) const;  ///< last client byte inside slice `index`

  // UpstreamRequest::Owner (the slice fetches)
  bufferevent* clientEvents() override { return owner_.clientEvents(); }
  log::AccessRecord& record() override { return owner_.record(); }
  void writeToClient(std::string_view bytes) override { owner_.writeToClient(bytes); }
  std::string upstreamHead(BodyEncoding bodyEncoding) override;
  void upstreamTunnel() override { fallBackOrClose("unexpected tunnel"); }
  bool onResponseHead() override;
  void teeBody(evbuffer* body, size_t n) override;
  void teeBody(std::string_view bytes) override;
  void responseComplete() override;
  void responseBroken(std::string error) override;
  void upstreamFailed(ErrorReply error, std::string logError, bool mayServeStale,
                      bool close) override;
  void requestBodyInvalid(std::string_view) override {}
  void upstreamAborted() override { fallBackOrClose("slice fetch aborted"); }

  ProxyContext& context_;
  Owner& owner_;
  Phase phase_ = Phase::kIdle;
  net::EventPtr wake_;
  std::shared_ptr<const config::Config> config_;
  const http::RequestHead* request_ = nullptr;
  const http::Target* target_ = nullptr;
  std::vector<acl::IpAddress> addresses_;
  std::string primaryKey_;
  std::optional<cache::policy::ObjectVersion> version_;
  std::optional<int64_t> age_;  ///< the descriptor's age (served from the cache), else none
  cache::policy::SliceGeometry geometry_;
  http::ResponseHead objectHead_;  ///< the head clients get (status 200, whole length)
  // The client's response: [next_, last_] still to send; status 200/206/416.
  int clientStatus_ = 200;
  uint64_t first_ = 0;
  uint64_t next_ = 0;
  uint64_t last_ = 0;
  bool headSent_ = false;
  bool headOnly_ = false;
  uint64_t fromCache_ = 0;  ///< slices read from the cache (or another client's fetch)
  uint64_t fetched_ = 0;    ///< slices fetched for this client
  // The slice being fetched or joined.
  uint64_t index_ = 0;
  std::string sliceKey_;
  http::RequestHead sliceRequest_;
  RequestBody noBody_;
  std::unique_ptr<UpstreamRequest> upstream_;  ///< fresh one after a hand-over
  std::unique_ptr<cache::EntryWriter> writer_;
  std::shared_ptr<InFlightFetch> lead_;   ///< the slice fetch this client leads
  std::shared_ptr<InFlightFetch> fetch_;  ///< another client's slice fetch, joined
  unsigned retries_ = 0;
};

}  // namespace portcullis::proxy
