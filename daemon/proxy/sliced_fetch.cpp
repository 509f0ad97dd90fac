// SlicedFetch, serving side: the phase table, planning the client's range
// against the object, sending stored slices (sendfile) and the slices
// another client is fetching (read-while-writer). The slice fetches
// themselves are in sliced_fetch_upstream.cpp.

#include "daemon/proxy/sliced_fetch.h"

#include <unistd.h>

#include <algorithm>
#include <limits>

#include "cache/cache.h"
#include "cache/policy/freshness.h"
#include "cache/policy/range.h"
#include "daemon/admin/stats.h"
#include "daemon/base/assert.h"
#include "daemon/proxy/background_fill.h"
#include "daemon/proxy/cache_stage.h"
#include "daemon/proxy/fill_store.h"
#include "daemon/proxy/forwarding.h"
#include "daemon/proxy/termination.h"

namespace portcullis::proxy {

namespace policy = cache::policy;

SlicedFetch::SlicedFetch(ProxyContext& context, Owner& owner)
    : context_(context),
      owner_(owner),
      upstream_(
          std::make_unique<UpstreamRequest>(context, static_cast<UpstreamRequest::Owner&>(*this))) {
  wake_.reset(event_new(context.base, -1, 0, &SlicedFetch::onWake, this));
}

SlicedFetch::~SlicedFetch() {
  stop(false);  // quiet: the connection (or the worker) is going away
}

std::string_view SlicedFetch::phaseName(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "Idle";
    case Phase::kProbing:
      return "Probing";
    case Phase::kReading:
      return "Reading";
    case Phase::kFetching:
      return "Fetching";
    case Phase::kJoined:
      return "Joined";
    case Phase::kDone:
      return "Done";
  }
  return "?";
}

bool SlicedFetch::transitionAllowed(Phase from, Phase to) {
  using P = Phase;
  switch (to) {
    case P::kDone:
      return true;
    case P::kIdle:
      return false;
    case P::kProbing:
      return from == P::kIdle || from == P::kDone;
    case P::kReading:
      return from == P::kIdle || from == P::kDone || from == P::kFetching || from == P::kJoined;
    case P::kFetching:
      return from == P::kProbing || from == P::kReading;
    case P::kJoined:
      return from == P::kReading;
  }
  return false;
}

void SlicedFetch::enter(Phase to) {
  PC_DEBUG_ASSERT(transitionAllowed(phase_, to), "SlicedFetch phase transition");
  const Phase from = phase_;
  phase_ = to;
  if (context_.observer != nullptr && from != to) {
    context_.observer->onPhase("sliced", phaseName(from), phaseName(to));
  }
}

bool SlicedFetch::mayProbe(const http::RequestHead& request, const config::CacheConfig& cache,
                           bool beyondWholeMax) {
  if (request.methodKind != http::Method::kGet || cache.sliceSize == 0) return false;
  if (request.headers.count("Range") != 1 || request.headers.has("Authorization")) return false;
  const auto value = *request.headers.get("Range");
  // A suffix range ("-N") needs the total we do not know yet.
  const auto eq = value.find('=');
  if (eq == std::string_view::npos ||
      value.substr(eq + 1).find_first_not_of(" \t") == value.substr(eq + 1).find('-')) {
    return false;
  }
  constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max() / 4;
  auto range = policy::parseRange(value, kHuge);
  if (range.kind != policy::RangeSpec::Kind::kSatisfiable) return false;
  return !beyondWholeMax || !policy::fetchWholeForRange(request, cache.rangeFetchWholeMax);
}

void SlicedFetch::start(std::shared_ptr<const config::Config> config,
                        const http::RequestHead& request, const http::Target& target,
                        const std::vector<acl::IpAddress>& addresses, std::string primaryKey,
                        std::shared_ptr<const cache::StoredEntry> descriptor) {
  config_ = std::move(config);
  request_ = &request;
  target_ = &target;
  addresses_ = addresses;
  primaryKey_ = std::move(primaryKey);
  headSent_ = false;
  headOnly_ = request.methodKind == http::Method::kHead;
  fromCache_ = fetched_ = 0;
  retries_ = 0;
  version_.reset();
  age_.reset();
  owner_.record().slice = "sliced";
  if (!descriptor) {
    // The probe: the aligned slice holding the first byte the client wants.
    constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max() / 4;
    auto range = policy::parseRange(*request.headers.get("Range"), kHuge);
    geometry_ = policy::SliceGeometry{0, config_->cache.sliceSize};
    enter(Phase::kProbing);
    fetchSlice(range.first / geometry_.sliceSize);
    return;
  }
  // RFC 9111 §5.1: a response from the cache says how old it is (the
  // descriptor's age: the head clients get is the descriptor's).
  age_ = policy::evaluate(request, descriptor->response, context_.clock->systemNow(),
                          cachePolicyOptions(*config_, target))
             .age;
  objectHead_.status = descriptor->response.status;
  objectHead_.reason = descriptor->response.reason;
  objectHead_.headers = descriptor->response.headers;
  const auto length = objectHead_.headers.get("Content-Length");
  uint64_t total = 0;
  if (length) total = std::strtoull(std::string(*length).c_str(), nullptr, 10);
  version_ = policy::versionOf(objectHead_.headers, total);
  geometry_ = policy::SliceGeometry{total, config_->cache.sliceSize};
  enter(Phase::kReading);
  if (!version_ || total == 0 || !planClientRange(objectHead_)) {
    fallBackOrClose("unusable descriptor");
    return;
  }
  schedule();
}

bool SlicedFetch::planClientRange(const http::ResponseHead& objectHead) {
  policy::StoredResponse whole;
  whole.status = 200;
  whole.headers = objectHead.headers;
  auto range = policy::rangeForRequest(*request_, whole, geometry_.total);
  clientStatus_ = 200;
  first_ = 0;
  last_ = geometry_.total - 1;
  if (range.kind == policy::RangeSpec::Kind::kSatisfiable) {
    clientStatus_ = 206;
    first_ = range.first;
    last_ = range.last;
  } else if (range.kind == policy::RangeSpec::Kind::kUnsatisfiable) {
    clientStatus_ = 416;
  }
  next_ = first_;
  return true;
}

void SlicedFetch::sendHead() {
  if (headSent_) return;
  headSent_ = true;
  http::ResponseHead head = objectHead_;
  head.headers.remove("Content-Length");
  head.headers.remove("Content-Range");
  head.headers.remove("Age");
  if (age_) head.headers.set("Age", std::to_string(std::max<int64_t>(0, *age_)));
  uint64_t length = geometry_.total;
  if (clientStatus_ == 206) {
    head.status = 206;
    head.reason = "Partial Content";
    policy::RangeSpec r{policy::RangeSpec::Kind::kSatisfiable, first_, last_};
    head.headers.set("Content-Range", policy::contentRangeValue(r, geometry_.total));
    length = last_ - first_ + 1;
  } else if (clientStatus_ == 416) {
    head.status = 416;
    head.reason = "Range Not Satisfiable";
    policy::RangeSpec r{policy::RangeSpec::Kind::kUnsatisfiable};
    head.headers.set("Content-Range", policy::contentRangeValue(r, geometry_.total));
    length = 0;
  }
  owner_.writeToClient(buildClientResponse(head, BodyEncoding::kContentLength, length,
                                           !owner_.keepAlive(), config_->server.viaPseudonym));
  owner_.record().status = head.status;
}

void SlicedFetch::schedule() {
  // Through the loop, never from inside an upstream callback.
  event_active(wake_.get(), 0, 0);
}

void SlicedFetch::onWake(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<SlicedFetch*>(arg);
  try {
    self->step();
  } catch (...) {
    self->fallBackOrClose("exception while serving slices");
  }
}

void SlicedFetch::proceed() {
  if (phase_ == Phase::kFetching) {
    upstream_->resumeReading();
  } else if (phase_ == Phase::kReading || phase_ == Phase::kJoined) {
    step();
  }
}

void SlicedFetch::step() {
  if (phase_ == Phase::kJoined) {
    streamJoined();
    return;
  }
  const size_t watermark = config_ ? config_->server.bufferBytes : 0;
  while (phase_ == Phase::kReading) {
    if (headOnly_ || clientStatus_ == 416 || next_ > last_) {
      finishOk();
      return;
    }
    if (evbuffer_get_length(owner_.clientOutput()) >= watermark) return;  // proceed() on drain
    const uint64_t index = next_ / geometry_.sliceSize;
    if (serveStoredSlice(index)) continue;
    sliceKey_ = policy::sliceKey(primaryKey_, *version_, geometry_.sliceSize, index);
    bool leader = false;
    auto fetch = context_.collapsed->join(sliceKey_, wake_.get(), leader);
    if (fetch && !leader) {
      index_ = index;
      fetch_ = std::move(fetch);
      enter(Phase::kJoined);
      streamJoined();
      return;
    }
    lead_ = std::move(fetch);  // null: the fetch ended as we joined; fetch alone
    // It may have been stored between our lookup and the join.
    if (serveStoredSlice(index)) {
      endLead(InFlightFetch::Phase::kFailed);  // waiters look again and find it
      continue;
    }
    enter(Phase::kFetching);
    fetchSlice(index);
    return;
  }
}

uint64_t SlicedFetch::clientWantEnd(uint64_t index) const {
  return std::min(last_, geometry_.start(index) + geometry_.length(index) - 1);
}

bool SlicedFetch::serveStoredSlice(uint64_t index) {
  const std::string key = policy::sliceKey(primaryKey_, *version_, geometry_.sliceSize, index);
  static const http::HeaderMap kNoFields;
  auto entry = context_.cache->lookup(key, kNoFields);
  if (!entry || entry->bodySize != geometry_.length(index)) return false;
  // A slice fetched from an address this client may not reach is not its to read.
  if (!owner_.mayReadCopyFrom(entry->originAddress)) return false;
  auto body = context_.cache->openBody(*entry);
  if (!body.ok()) return false;
  sendHead();
  const uint64_t offset = next_ - geometry_.start(index);
  const uint64_t length = clientWantEnd(index) - next_ + 1;
  // sendfile from the page cache; libevent closes the fd once sent.
  if (evbuffer_add_file(owner_.clientOutput(), body.value().release(),
                        static_cast<ev_off_t>(offset), static_cast<ev_off_t>(length)) != 0) {
    return false;
  }
  owner_.record().bytesOut += length;
  next_ += length;
  ++fromCache_;
  context_.stats->sliceServed(length);
  return true;
}

void SlicedFetch::streamJoined() {
  auto view = fetch_->view();
  using P = InFlightFetch::Phase;
  if (view.phase == P::kWaitingHead) return;
  const bool usable = (view.phase == P::kStreaming || view.phase == P::kComplete) && view.body &&
                      owner_.mayReadCopyFrom(view.originAddress);
  if (!usable) {
    // Failed, or not this client's to read: look again, then fetch it ourselves.
    leaveJoined();
    if (++retries_ > 3) {
      fallBackOrClose("slice fetch by another client failed repeatedly");
      return;
    }
    enter(Phase::kReading);
    schedule();
    return;
  }
  const uint64_t sliceStart = geometry_.start(index_);
  const uint64_t wantEnd = clientWantEnd(index_);  // inclusive, absolute
  const uint64_t available = sliceStart + view.body->bytesWritten();
  evbuffer* out = owner_.clientOutput();
  if (next_ < available && evbuffer_get_length(out) < config_->server.bufferBytes) {
    auto fd = view.body->openReader();
    if (!fd.ok()) {
      leaveJoined();
      enter(Phase::kReading);
      schedule();
      return;
    }
    sendHead();
    const uint64_t length = std::min(available, wantEnd + 1) - next_;
    if (evbuffer_add_file(out, fd.value().release(), static_cast<ev_off_t>(next_ - sliceStart),
                          static_cast<ev_off_t>(length)) != 0) {
      fallBackOrClose("cache read failed while streaming a slice");
      return;
    }
    owner_.record().bytesOut += length;
    context_.stats->sliceServed(length);
    next_ += length;
  }
  if (next_ > wantEnd) {
    ++fromCache_;
    leaveJoined();
    enter(Phase::kReading);
    schedule();
  }
}

void SlicedFetch::leaveJoined() {
  if (!fetch_) return;
  fetch_->removeWaiter(wake_.get());
  fetch_.reset();
}

void SlicedFetch::finishOk() {
  auto& record = owner_.record();
  sendHead();
  record.cache = fetched_ == 0     ? log::CacheResult::kHit
                 : fromCache_ == 0 ? log::CacheResult::kMiss
                                   : log::CacheResult::kPartial;
  enter(Phase::kDone);
  owner_.slicedFinished();
}

void SlicedFetch::fallBackOrClose(std::string_view why) {
  if (phase_ == Phase::kDone || phase_ == Phase::kIdle) return;
  upstream_->release(false);
  if (writer_) writer_->abort();
  writer_.reset();
  endLead(InFlightFetch::Phase::kFailed);
  leaveJoined();
  enter(Phase::kDone);
  auto& record = owner_.record();
  if (!headSent_) {
    owner_.slicedFallBack();  // nothing sent: the ordinary path serves it
    return;
  }
  record.error = "sliced response cut short: " + std::string(why);
  record.termination = describe(Termination::kOriginBodyBroken).name;
  owner_.slicedBroken();
}

void SlicedFetch::leave() {
  stop(true);
}

void SlicedFetch::stop(bool handOver) {
  if (phase_ == Phase::kIdle || phase_ == Phase::kDone) return;
  if (handOver && phase_ == Phase::kFetching) handOverSlice();
  upstream_->release(false);
  if (writer_) writer_->abort();
  writer_.reset();
  endLead(InFlightFetch::Phase::kFailed);
  leaveJoined();
  if (wake_) event_del(wake_.get());
  enter(Phase::kDone);
}

void SlicedFetch::handOverSlice() {
  // Only a slice whose body is streaming into its entry: before the head
  // nothing is stored yet (and the probe's answer is still unknown).
  if (context_.fills == nullptr || !writer_) return;
  auto plan = context_.fills->planFor(*upstream_, true, std::nullopt);
  if (!plan) return;
  auto store = std::make_unique<SliceFillStore>(context_, std::move(writer_), std::move(lead_),
                                                sliceKey_, geometry_.length(index_));
  FillHandover parts{config_,         sliceRequest_,        *target_,        noBody_, addresses_,
                     owner_.record(), std::move(upstream_), std::move(store)};
  context_.fills->adopt(parts, *plan);
  upstream_ =
      std::make_unique<UpstreamRequest>(context_, static_cast<UpstreamRequest::Owner&>(*this));
}

}  // namespace portcullis::proxy
