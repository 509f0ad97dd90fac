#pragma once
// A cache fill that outlives its client (cache.fill_after_abort, issue #15).
// When the client whose exchange leads a cache fill (CacheStage kStoring,
// or a SlicedFetch fetching one slice; UpstreamRequest kRelayingBody; maybe
// leading a collapsed fetch with waiters) goes away mid-body, its owner
// hands the request and the store (fill_store.h) to a BackgroundFill, which
// keeps reading the origin and storing, with no client, until the unit is
// whole: the object, or the slice being fetched (fill_plan.h). So a pupil
// closing a laptop lid does not throw away a half-fetched update, and the
// classmates collapsed onto that fetch (or that slice) keep streaming it.
// Like Squid's quick_abort_min/max, but bounded: a fill is taken only when
// at most fill_after_abort bytes are left (by Content-Length), or, without
// a length, stops after that many more bytes.
//
//   kIdle --start(): the parts are adopted (the owner took fresh ones)--> kFilling
//   kFilling --body (or the slice a 200 was storing) whole: committed--------------> kDone
//   kFilling --origin closed, broke or timed out (body_timeout)--------------------> kDone
//   kFilling --no Content-Length and fill_after_abort bytes read: aborted-----------> kDone
//   kFilling --the cache stopped storing (too big, disk trouble): aborted-----------> kDone
//   kFilling --stop(): the worker drains or shuts down: aborted--------------------> kDone
//
// Every ending writes one access-log line of the fill's own (its upstream
// bytes, bytes_out 0, termination "fill_<outcome>"; a slice's line keeps
// slice "sliced"), counts the upstream bytes and the outcome in /metrics,
// ends any lead of a collapsed fetch and asks the registry to delete the
// fill after the current callback. The client's own line was written when
// it left.
//
// BackgroundFills is the worker's registry: it decides whether a fill may
// start (planFor: size left, at most kMaxPerWorker at once, not while
// draining), owns the fills and stops them all on shutdown. On the worker's
// loop thread only.

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/config/config.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/log/access_record.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/fill_plan.h"
#include "daemon/proxy/fill_store.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

class BackgroundFills;

/// What an exchange (or a sliced fetch) hands over: its request (copied by
/// the fill) and its two parts, moved in once BackgroundFills::planFor said yes.
struct FillHandover {
  const std::shared_ptr<const config::Config>& config;
  const http::RequestHead& request;
  const http::Target& target;
  const RequestBody& body;
  const std::vector<acl::IpAddress>& addresses;
  const log::AccessRecord& record;  ///< the client's record (the fill's line starts from it)
  std::unique_ptr<UpstreamRequest> upstream;
  std::unique_ptr<FillStore> store;
};

class BackgroundFill final : private UpstreamRequest::Owner {
 public:
  enum class Phase : uint8_t { kIdle, kFilling, kDone };
  enum class Outcome : uint8_t { kCompleted, kOriginBroken, kOverLimit, kStorageStopped, kStopped };

  /// `plan`: how far the fill reads (fill_plan.h).
  BackgroundFill(ProxyContext& context, BackgroundFills& registry, FillHandover& parts,
                 FillPlan plan);
  ~BackgroundFill() override;
  BackgroundFill(const BackgroundFill&) = delete;
  BackgroundFill& operator=(const BackgroundFill&) = delete;

  void start();
  /// Shutdown or drain: abort the fill now (not from inside its own callbacks).
  void stop() { end(Outcome::kStopped, "stopped: the proxy is shutting down"); }

  Phase phase() const { return phase_; }
  static std::string_view phaseName(Phase p);
  /// The access log's termination for `o`: "fill_completed", ...
  static std::string_view outcomeName(Outcome o);

 private:
  static bool transitionAllowed(Phase from, Phase to);
  void enter(Phase to);
  void end(Outcome outcome, std::string error);
  /// Ends the fill on the next loop turn (asked from inside a body read).
  void endSoon(Outcome outcome, std::string error);
  static void onEndSoon(evutil_socket_t, short, void* arg) noexcept;
  /// The body bytes of `n` the store takes (a slice's end stops there).
  size_t toStore(size_t n) const;
  void afterTee(size_t n);

  // UpstreamRequest::Owner: the body is teed to the cache; nothing goes to a client.
  bufferevent* clientEvents() override { return nullptr; }
  log::AccessRecord& record() override { return record_; }
  void writeToClient(std::string_view) override {}
  std::string upstreamHead(BodyEncoding) override { return {}; }
  void upstreamTunnel() override { endSoon(Outcome::kOriginBroken, "unexpected tunnel"); }
  bool onResponseHead() override { return false; }
  void teeBody(evbuffer* body, size_t n) override;
  void teeBody(std::string_view bytes) override;
  void responseComplete() override;
  void responseBroken(std::string error) override;
  void upstreamFailed(ErrorReply, std::string logError, bool, bool) override;
  void requestBodyInvalid(std::string_view) override {}
  void upstreamAborted() override { endSoon(Outcome::kOriginBroken, "internal error"); }

  ProxyContext& context_;
  BackgroundFills& registry_;
  Phase phase_ = Phase::kIdle;
  std::shared_ptr<const config::Config> config_;
  http::RequestHead request_;
  http::Target target_;
  RequestBody body_;
  std::vector<acl::IpAddress> addresses_;
  log::AccessRecord record_;
  std::chrono::steady_clock::time_point started_;
  FillPlan plan_;
  uint64_t read_ = 0;
  std::optional<Outcome> pending_;
  std::string pendingError_;
  net::EventPtr endSoon_;
  std::unique_ptr<UpstreamRequest> upstream_;
  std::unique_ptr<FillStore> store_;
};

class BackgroundFills {
 public:
  /// Fills at once per worker. Each holds one origin connection, up to
  /// server.buffer_bytes of read buffer and one cache file: 16 per worker
  /// bounds what abandoned downloads can take of the link and the process.
  static constexpr size_t kMaxPerWorker = 16;

  explicit BackgroundFills(ProxyContext& context, size_t maxFills = kMaxPerWorker);
  ~BackgroundFills();
  BackgroundFills(const BackgroundFills&) = delete;
  BackgroundFills& operator=(const BackgroundFills&) = delete;

  /// Whether a fill may finish without its client what `upstream` relays
  /// into a store: upstream relaying a body, the store `storing`,
  /// fill_after_abort (the live config's, so a reload applies to the next
  /// abort) not 0 and at least what is left of the unit (`unitLeft`: the
  /// slice a 200 stored as slices is in), room for one more, not shutting
  /// down. Nullopt: the parts stay with the caller, which aborts them.
  std::optional<FillPlan> planFor(const UpstreamRequest& upstream, bool storing,
                                  std::optional<uint64_t> unitLeft) const;
  /// Takes `parts` over (after planFor said `plan`) and starts the fill.
  void adopt(FillHandover& parts, FillPlan plan);
  /// Aborts every fill (drain or shutdown).
  void stopAll();
  size_t active() const { return live_.size(); }
  /// The fill ended: delete it after the current callback.
  void retire(BackgroundFill* fill);

 private:
  static void onReap(evutil_socket_t, short, void* arg) noexcept;

  ProxyContext& context_;
  size_t maxFills_;
  std::unordered_map<BackgroundFill*, std::unique_ptr<BackgroundFill>> live_;
  std::vector<std::unique_ptr<BackgroundFill>> retired_;
  net::EventPtr reap_;
};

}  // namespace portcullis::proxy
