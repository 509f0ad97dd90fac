// SlicedFetch, fetching side: one slice at a time from the origin with
// Range (and If-Range once the version is known), checked against the
// object's version (cache/policy/slice_plan.h), stored as its own cache
// entry while the client's part of it streams past (UpstreamRequest's cut),
// and announced to the clients that joined the fetch.

#include <event2/buffer.h>

#include <algorithm>

#include "cache/cache.h"
#include "cache/policy/range.h"
#include "cache/policy/vary.h"
#include "daemon/admin/stats.h"
#include "daemon/net/evbuffer_pieces.h"
#include "daemon/proxy/sliced_fetch.h"

namespace portcullis::proxy {

namespace policy = cache::policy;

namespace {
// A Vary other than Accept-Encoding (which slice fetches pin to identity)
// would make one slice key hold several bodies: such objects are not sliced.
bool varyAllowsSlicing(const http::HeaderMap& headers) {
  for (const auto& name : policy::varyFieldNames(headers)) {
    if (!http::equalsIgnoreCase(name, "accept-encoding")) return false;
  }
  return true;
}
}  // namespace

void SlicedFetch::fetchSlice(uint64_t index) {
  index_ = index;
  sliceRequest_ = *request_;
  for (auto name : {"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since",
                    "If-Unmodified-Since", "Accept-Encoding"}) {
    sliceRequest_.headers.remove(name);
  }
  sliceRequest_.method = "GET";
  sliceRequest_.methodKind = http::Method::kGet;
  sliceRequest_.headers.set("Accept-Encoding", "identity");
  sliceRequest_.headers.set("Range", policy::sliceRangeValue(geometry_, index));
  // RFC 9110 §13.1.5: another version answers 200 with the whole body
  // instead of a 206 we could mix into the old one.
  if (version_) sliceRequest_.headers.set("If-Range", version_->validator);
  noBody_ = RequestBody{};
  upstream_->start(config_, sliceRequest_, *target_, noBody_, addresses_);
}

std::string SlicedFetch::upstreamHead(BodyEncoding bodyEncoding) {
  return buildUpstreamRequest(sliceRequest_, *target_, bodyEncoding, 0,
                              config_->server.viaPseudonym);
}

bool SlicedFetch::acceptProbe(const http::ResponseHead& response) {
  std::optional<policy::ObjectVersion> seen;
  auto answer = policy::checkSliceAnswer(response, index_, geometry_.sliceSize, std::nullopt, seen);
  if (answer != policy::SliceAnswer::kOk || !varyAllowsSlicing(response.headers) ||
      seen->total > config_->cache.maxObjectSize) {
    owner_.record().slice = "unsupported";
    return false;
  }
  version_ = seen;
  geometry_.total = seen->total;
  objectHead_ = response;
  objectHead_.status = 200;
  objectHead_.reason = "OK";
  objectHead_.headers.remove("Content-Range");
  objectHead_.headers.set("Content-Length", std::to_string(seen->total));
  planClientRange(objectHead_);
  // The descriptor: the head clients get, with the version and the length.
  cache::WriteRequest w;
  w.key = policy::descriptorKey(primaryKey_);
  w.response = objectHead_;
  w.requestTime = upstream_->requestSentAt();
  w.responseTime = context_.clock->systemNow();
  w.expectedLength = 0;
  w.originAddress = upstream_->originAddress();
  if (auto writer = context_.cache->beginWrite(std::move(w)); writer.ok()) {
    (void)writer.value()->commit();
  }
  sliceKey_ = policy::sliceKey(primaryKey_, *version_, geometry_.sliceSize, index_);
  return true;
}

bool SlicedFetch::onResponseHead() {
  const auto& response = upstream_->response();
  if (phase_ == Phase::kProbing) {
    if (!acceptProbe(response)) {
      fallBackOrClose("origin does not do ranges");
      return false;
    }
    enter(Phase::kFetching);
  } else {
    std::optional<policy::ObjectVersion> seen;
    auto answer = policy::checkSliceAnswer(response, index_, geometry_.sliceSize, version_, seen);
    if (answer == policy::SliceAnswer::kIgnoredRange || answer == policy::SliceAnswer::kChanged) {
      objectChanged();
      return false;
    }
    if (answer != policy::SliceAnswer::kOk) {
      fallBackOrClose(policy::sliceAnswerName(answer));
      return false;
    }
  }
  // Store the whole slice; the client gets its part of it as it passes.
  cache::WriteRequest w;
  w.key = sliceKey_;
  w.response = response;
  w.requestTime = upstream_->requestSentAt();
  w.responseTime = context_.clock->systemNow();
  w.expectedLength = geometry_.length(index_);
  w.originAddress = upstream_->originAddress();
  if (auto writer = context_.cache->beginWrite(std::move(w)); writer.ok()) {
    writer_ = std::move(writer.value());
    if (lead_)
      lead_->publishHead(response, {}, {}, writer_->progress(), upstream_->originAddress());
  } else {
    context_.noteCacheStorage(&writer.error());
    endLead(InFlightFetch::Phase::kUncacheable);
  }
  const uint64_t sliceStart = geometry_.start(index_);
  const bool forClient = !headOnly_ && clientStatus_ != 416 && next_ >= sliceStart &&
                         next_ <= last_ && next_ / geometry_.sliceSize == index_;
  if (forClient) {
    sendHead();
    upstream_->cutForClient(next_ - sliceStart, clientWantEnd(index_) - next_ + 1);
  } else {
    upstream_->cutForClient(geometry_.length(index_), 0);  // the probe of a slice not sent
  }
  return true;
}

void SlicedFetch::teeBody(evbuffer* body, size_t n) {
  if (!writer_ || n == 0) return;
  net::forEachPeekedPiece(body, n, [this](std::string_view piece) {
    teeBody(piece);
    return writer_ != nullptr;  // a failed append dropped the writer
  });
}

void SlicedFetch::teeBody(std::string_view bytes) {
  if (!writer_ || bytes.empty()) return;
  if (!writer_->append(bytes).ok()) {
    // Disk trouble: the client still gets its bytes; the slice is not kept.
    writer_.reset();
    endLead(InFlightFetch::Phase::kFailed);
    return;
  }
  if (lead_) lead_->notifyProgress();
}

void SlicedFetch::responseComplete() {
  const uint64_t sliceStart = geometry_.start(index_);
  if (next_ >= sliceStart && next_ <= clientWantEnd(index_) &&
      next_ / geometry_.sliceSize == index_) {
    next_ = clientWantEnd(index_) + 1;  // the cut sent the client's part
  }
  bool committed = false;
  if (writer_) {
    auto entry = writer_->commit();
    committed = entry.ok();
    context_.noteCacheStorage(committed ? nullptr : &entry.error());
    writer_.reset();
  }
  endLead(committed ? InFlightFetch::Phase::kComplete : InFlightFetch::Phase::kFailed);
  context_.stats->sliceFetched(geometry_.length(index_));
  ++fetched_;
  upstream_->release(upstream_->reusable());
  enter(Phase::kReading);
  schedule();
}

void SlicedFetch::responseBroken(std::string error) {
  owner_.record().error = std::move(error);
  fallBackOrClose("origin body broken");
}

void SlicedFetch::upstreamFailed(ErrorReply, std::string logError, bool, bool) {
  owner_.record().error = std::move(logError);
  fallBackOrClose("slice fetch failed");
}

void SlicedFetch::endLead(InFlightFetch::Phase outcome) {
  if (!lead_) return;
  lead_->finish(outcome);
  context_.collapsed->remove(sliceKey_, lead_.get());
  lead_.reset();
}

void SlicedFetch::objectChanged() {
  // The origin has another version: the descriptor and every slice of the
  // old one go, so no later request mixes them with the new one.
  auto* store = context_.cache;
  store->invalidate(policy::descriptorKey(primaryKey_));
  if (version_) {
    for (uint64_t i = 0; i < geometry_.count(); ++i) {
      store->invalidate(policy::sliceKey(primaryKey_, *version_, geometry_.sliceSize, i));
    }
  }
  owner_.record().slice = "changed";
  fallBackOrClose("the object changed at the origin");
}

}  // namespace portcullis::proxy
