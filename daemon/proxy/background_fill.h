#pragma once
// A cache fill that outlives its client (cache.fill_after_abort, issue #15
// item 3). When the client whose exchange leads a cache fill (CacheStage
// kStoring, UpstreamRequest kRelayingBody, maybe leading a collapsed fetch
// with waiters) goes away mid-body, the exchange hands both parts to a
// BackgroundFill, which keeps reading the origin and storing, with no client,
// until the object is whole. So a pupil closing a laptop lid does not throw
// away a half-fetched update, and the classmates collapsed onto that fetch
// keep streaming it. Like Squid's quick_abort_min/max, but bounded: a fill
// is taken only when at most fill_after_abort bytes are left (by
// Content-Length), or, without a length, stops after that many more bytes.
//
//   kIdle --start(): the parts are adopted (the exchange took fresh ones)--> kFilling
//   kFilling --body whole: committed (waiters see it complete)---------------------> kDone
//   kFilling --origin closed, broke or timed out (body_timeout)--------------------> kDone
//   kFilling --no Content-Length and fill_after_abort bytes read: aborted-----------> kDone
//   kFilling --the cache stopped storing (too big, disk trouble): aborted-----------> kDone
//   kFilling --stop(): the worker drains or shuts down: aborted--------------------> kDone
//
// Every ending writes one access-log line of the fill's own (its upstream
// bytes, bytes_out 0, termination "fill_<outcome>"), ends any lead of a
// collapsed fetch and asks the registry to delete the fill after the
// current callback. The client's own line was written when it left.
//
// Reuse: anything that owns an UpstreamRequest relaying a body into a
// CacheStage hands them over through a FillHandover; a sliced fetch can
// pass its own request and stage (one slice) the same way.
//
// BackgroundFills is the worker's registry: it decides whether a fill may
// start (size left, at most kMaxPerWorker at once, not while draining),
// owns the fills and stops them all on shutdown. On the worker's loop
// thread only.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/config/config.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/log/access_record.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/proxy/cache_stage.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

class BackgroundFills;

/// What an exchange hands over: its request (copied by the fill) and its
/// two parts (moved out when the fill is taken, untouched otherwise).
struct FillHandover {
  const std::shared_ptr<const config::Config>& config;
  const http::RequestHead& request;
  const http::Target& target;
  const RequestBody& body;
  const std::vector<acl::IpAddress>& addresses;
  const log::AccessRecord& record;  ///< the client's record (the fill's line starts from it)
  std::unique_ptr<UpstreamRequest>& upstream;
  std::unique_ptr<CacheStage>& cache;
};

class BackgroundFill final : private UpstreamRequest::Owner, private CacheStage::Owner {
 public:
  enum class Phase : uint8_t { kIdle, kFilling, kDone };
  enum class Outcome : uint8_t { kCompleted, kOriginBroken, kOverLimit, kStorageStopped, kStopped };

  /// `budget`: body bytes the fill may still read; 0 = unbounded (the
  /// Content-Length said what is left, and it was within the limit).
  BackgroundFill(ProxyContext& context, BackgroundFills& registry, FillHandover& parts,
                 uint64_t budget);
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

  // CacheStage::Owner: only its storing side runs here.
  evbuffer* clientOutput() override { return nullptr; }
  bool keepAlive() const override { return false; }
  acl::Decision admitAddresses(const std::vector<acl::IpAddress>&) const override { return {}; }
  void servedFromCache() override {}
  void answer(ErrorReply, bool) override {}
  event* waiterWake() override { return nullptr; }
  void serveSliced(std::string, std::shared_ptr<const cache::StoredEntry>) override {}
  void waitForFetch(std::shared_ptr<InFlightFetch>) override {}

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
  uint64_t budget_;  ///< 0 = bounded by the Content-Length already
  uint64_t read_ = 0;
  Outcome pending_ = Outcome::kCompleted;
  std::string pendingError_;
  net::EventPtr endSoon_;
  std::unique_ptr<UpstreamRequest> upstream_;
  std::unique_ptr<CacheStage> cache_;
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

  /// Takes `parts` over when the fill may finish without its client:
  /// upstream relaying a body, the stage storing it, fill_after_abort (the
  /// live config's, so a reload applies to the next abort) not 0 and at
  /// least what is left, room for one more, not shutting down. False: the
  /// parts stay with the caller, which aborts them as before.
  bool adopt(FillHandover& parts);
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
