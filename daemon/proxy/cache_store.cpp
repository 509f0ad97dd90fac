// CacheStage, storing side: what the origin's response head means for the
// cache (revalidation, invalidation, a range cut from a whole fetch,
// storing), the tee of the body into the cache, and the leader's progress
// announcements to collapsed waiters.

#include <event2/buffer.h>

#include <algorithm>

#include "cache/policy/invalidation.h"
#include "cache/policy/range.h"
#include "cache/policy/slice_plan.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"
#include "daemon/net/evbuffer_pieces.h"
#include "daemon/proxy/cache_stage.h"
#include "daemon/proxy/sliced_fetch.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

namespace policy = cache::policy;

bool CacheStage::prepareRangeCut(UpstreamRequest& upstream, http::ResponseHead& clientHead,
                                 uint64_t& clientLength, bool& cut) {
  const auto& response = upstream.response();
  const auto& framing = upstream.framing();
  if (!fetchWholeForRange_ || response.status != 200) return true;
  const bool known = framing.kind == http::BodyKind::kContentLength;
  if (!known || framing.length > config_->cache.rangeFetchWholeMax) {
    fetchWholeForRange_ = false;
    if (known && framing.length <= config_->cache.maxObjectSize &&
        policy::versionOf(response.headers, framing.length) &&
        SlicedFetch::mayProbe(*request_, config_->cache, false) && owner_->mayFetchSlices()) {
      // Too big to fetch whole but sliceable: ask for the slice the range starts in.
      upstream.release(false);
      owner_->serveSliced(key_, nullptr);
      return false;
    }
    // Too big (or unknown) to fetch whole for a range: ask for just the range.
    upstream.refetch(false);
    return false;
  }
  policy::StoredResponse whole;
  whole.status = response.status;
  whole.headers = response.headers;
  const uint64_t size = framing.length;
  auto range = policy::rangeForRequest(*request_, whole, size);
  if (range.kind == policy::RangeSpec::Kind::kNone) return true;  // e.g. If-Range mismatch: 200
  cut = true;
  clientHead.headers.set("Content-Range", policy::contentRangeValue(range, size));
  if (range.kind == policy::RangeSpec::Kind::kSatisfiable) {
    clientHead.status = 206;
    clientHead.reason = "Partial Content";
    upstream.cutForClient(range.first, range.length());
    clientLength = range.length();
  } else {
    clientHead.status = 416;
    clientHead.reason = "Range Not Satisfiable";
    upstream.cutForClient(size, 0);
    clientLength = 0;
  }
  return true;
}

bool CacheStage::onResponseHead(UpstreamRequest& upstream) {
  cache::Cache* store = context_.cache;
  if (store == nullptr) return false;
  const auto& response = upstream.response();
  responseAt_ = context_.clock->systemNow();
  // Unsafe methods invalidate what they may have changed (RFC 9111 §4.4).
  for (const auto& key :
       policy::invalidationKeys(*request_, *target_, response, config_->cache.rules.get())) {
    store->invalidate(key);
    store->invalidate(policy::descriptorKey(key));  // a sliced object's slices go with it
    context_.collapsed->forget(key);
  }
  if (!eligible_) return false;
  if (stored_) {
    if (revalidated(upstream)) return true;
    if (response.status >= 500 && serveStaleOnError(upstream)) return true;
  }
  startStoring(upstream);
  return false;
}

bool CacheStage::revalidated(UpstreamRequest& upstream) {
  const auto& response = upstream.response();
  if (response.status != 304) return false;
  if (!policy::notModifiedMatches(stored_->response, response)) {
    // §4.3.4: a 304 that selects no stored response (another strong ETag)
    // updates nothing, and the client's request carried only our
    // validators: ask once more, unconditionally.
    stored_.reset();
    enter(Phase::kFetching);
    upstream.refetch(upstream.reusable());
    return true;
  }
  // The client gets the merge with the 304's Set-Cookie; the cache the
  // merge without it, or no entry if the 304 made it unstorable. Served
  // first (its body is then open) and from copies: serving ends the exchange.
  cache::Cache* store = context_.cache;
  const auto stored = stored_;
  const http::RequestHead request = *request_;
  const http::ResponseHead notModified = response;
  const auto sentAt = upstream.requestSentAt(), receivedAt = responseAt_;
  const auto options = cachePolicyOptions(*config_, *target_);
  auto forClient = std::make_shared<cache::StoredEntry>(*stored);
  forClient->response = policy::mergeForClient(stored->response, notModified, sentAt, receivedAt);
  upstream.release(upstream.reusable());
  const bool served = serveStored(forClient, 0, log::CacheResult::kRevalidated);
  store->updateHeaders(*stored, request, notModified, sentAt, receivedAt, options);
  return served;
}

bool CacheStage::startSliced(UpstreamRequest& upstream) {
  const auto& response = upstream.response();
  const auto& framing = upstream.framing();
  const auto& c = config_->cache;
  if (c.sliceSize == 0 || !owner_->mayFetchSlices() || response.status != 200 ||
      framing.kind != http::BodyKind::kContentLength || framing.length <= c.sliceAbove ||
      framing.length > c.maxObjectSize || request_->headers.has("Authorization")) {
    return false;
  }
  // One body for every client: no content coding, no Vary but Accept-Encoding.
  if (auto ce = response.headers.get("Content-Encoding");
      ce && !http::equalsIgnoreCase(*ce, "identity")) {
    return false;
  }
  for (const auto& name : policy::varyFieldNames(response.headers)) {
    if (!http::equalsIgnoreCase(name, "accept-encoding")) return false;
  }
  auto version = policy::versionOf(response.headers, framing.length);
  if (!version) return false;  // no validator: If-Range could not keep versions apart
  cache::SlicedWriter::Start s{key_,
                               *version,
                               c.sliceSize,
                               response,
                               upstream.requestSentAt(),
                               responseAt_,
                               upstream.originAddress()};
  auto writer = cache::SlicedWriter::begin(*context_.cache, std::move(s));
  if (!writer.ok()) {
    context_.noteCacheStorage(&writer.error());
    return false;
  }
  sliced_ = std::move(writer.value());
  owner_->record().slice = "sliced";
  enter(Phase::kStoring);
  // Collapsed waiters fetch for themselves (and find the slices stored so far).
  leaveFetch(InFlightFetch::Phase::kUncacheable);
  return true;
}

void CacheStage::startStoring(UpstreamRequest& upstream) {
  const auto& response = upstream.response();
  const bool storable =
      request_->methodKind == http::Method::kGet &&
      policy::isStorable(*request_, response, cachePolicyOptions(*config_, *target_));
  if (storable && startSliced(upstream)) return;
  if (storable) {
    cache::WriteRequest w;
    w.key = key_;
    w.requestHeaders = request_->headers;
    w.response = response;
    w.requestTime = upstream.requestSentAt();
    w.responseTime = responseAt_;
    if (upstream.framing().kind == http::BodyKind::kContentLength) {
      w.expectedLength = upstream.framing().length;
    }
    w.originAddress = upstream.originAddress();
    auto writer = context_.cache->beginWrite(std::move(w));
    if (writer.ok()) {
      writer_ = std::move(writer.value());
      enter(Phase::kStoring);
    } else {
      context_.noteCacheStorage(&writer.error());
    }
  }
  if (fetch_) {
    if (writer_) {
      auto names = policy::varyFieldNames(response.headers);
      auto secondary = policy::secondaryKey(names, request_->headers);
      fetch_->publishHead(response, std::move(names), std::move(secondary), writer_->progress(),
                          upstream.originAddress());
    } else {
      leaveFetch(InFlightFetch::Phase::kUncacheable);
    }
  }
  if (!writer_) enter(Phase::kDone);
}

void CacheStage::adopt(Owner& owner, const http::RequestHead& request, const http::Target& target,
                       const std::vector<acl::IpAddress>& addresses) {
  owner_ = &owner;
  request_ = &request;
  target_ = &target;
  addresses_ = &addresses;
}

void CacheStage::tee(evbuffer* body, size_t n) {
  if ((!writer_ && !sliced_) || n == 0) return;
  if (net::forEachPeekedPiece(body, n, [this](std::string_view piece) { return append(piece); }))
    noteProgress(n);
}

void CacheStage::tee(std::string_view bytes) {
  if ((!writer_ && !sliced_) || bytes.empty()) return;
  if (append(bytes)) noteProgress(bytes.size());
}

bool CacheStage::append(std::string_view bytes) {
  if (sliced_) {
    if (sliced_->append(bytes)) return true;
    sliced_->finish();  // disk trouble: the slices stored so far stay
    sliced_.reset();
    enter(Phase::kDone);
    return false;
  }
  if (auto appended = writer_->append(bytes); !appended.ok()) {
    // Too big or disk trouble: keep relaying, uncached.
    context_.noteCacheStorage(&appended.error());
    writer_.reset();
    enter(Phase::kDone);
    leaveFetch(InFlightFetch::Phase::kFailed);
    return false;
  }
  return true;
}

void CacheStage::finishWrite(bool complete) {
  bool committed = false;
  if (sliced_) {
    sliced_->finish();
    sliced_.reset();
    enter(Phase::kDone);
  }
  if (writer_) {
    if (complete) {
      auto result = writer_->commit();
      committed = result.ok();
      context_.noteCacheStorage(committed ? nullptr : &result.error());
    } else {
      writer_->abort();
    }
    writer_.reset();
    enter(Phase::kDone);
  }
  leaveFetch(committed
                 ? InFlightFetch::Phase::kComplete
                 : (complete ? InFlightFetch::Phase::kUncacheable : InFlightFetch::Phase::kFailed));
}

void CacheStage::leaveFetch(InFlightFetch::Phase outcome) {
  if (!fetch_) return;
  fetch_->finish(outcome);
  context_.collapsed->remove(key_, fetch_.get());
  fetch_.reset();
}

void CacheStage::noteProgress(size_t n) {
  if (!fetch_) return;
  // Waiters are woken per 256 KiB (or 2 ms after the last wake-up): each
  // then sends one large sendfile instead of one per upstream read, which
  // costs fewer segments and wake-ups for the 30 clients of a classroom.
  static constexpr size_t kWakeBatch = 256 * 1024;
  unannouncedBytes_ += n;
  if (unannouncedBytes_ >= kWakeBatch) {
    unannouncedBytes_ = 0;
    evtimer_del(progressTimer_.get());
    fetch_->notifyProgress();
  } else if (!evtimer_pending(progressTimer_.get(), nullptr)) {
    timeval soon{0, 2000};
    evtimer_add(progressTimer_.get(), &soon);
  }
}

void CacheStage::onProgressTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<CacheStage*>(arg);
  if (self->fetch_ && self->unannouncedBytes_ > 0) {
    self->unannouncedBytes_ = 0;
    self->fetch_->notifyProgress();
  }
}

}  // namespace portcullis::proxy
