// BackgroundFill: the phase table, the fill's endings and its log line;
// BackgroundFills: the worker's registry.

#include "daemon/proxy/background_fill.h"

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/base/assert.h"
#include "daemon/proxy/server.h"

namespace portcullis::proxy {

BackgroundFill::BackgroundFill(ProxyContext& context, BackgroundFills& registry,
                               FillHandover& parts, FillPlan plan)
    : context_(context),
      registry_(registry),
      config_(parts.config),
      request_(parts.request),
      target_(parts.target),
      body_(parts.body),
      addresses_(parts.addresses),
      record_(parts.record),
      plan_(plan),
      upstream_(std::move(parts.upstream)),
      store_(std::move(parts.store)) {
  endSoon_.reset(event_new(context.base, -1, 0, &BackgroundFill::onEndSoon, this));
  // The fill's own line: what it read from the origin after the client left.
  record_.start = context_.clock->systemNow();
  record_.bytesIn = 0;
  record_.bytesOut = 0;
  record_.upstreamBytes = 0;
  record_.error.clear();
  record_.termination = {};
}

BackgroundFill::~BackgroundFill() {
  // Quiet: the registry is going away (or the fill ended already). The
  // parts abort what they hold in their own destructors.
  if (endSoon_) event_del(endSoon_.get());
}

std::string_view BackgroundFill::phaseName(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "Idle";
    case Phase::kFilling:
      return "Filling";
    case Phase::kDone:
      return "Done";
  }
  return "?";
}

std::string_view BackgroundFill::outcomeName(Outcome o) {
  switch (o) {
    case Outcome::kCompleted:
      return "fill_completed";
    case Outcome::kOriginBroken:
      return "fill_origin_broken";
    case Outcome::kOverLimit:
      return "fill_over_limit";
    case Outcome::kStorageStopped:
      return "fill_storage_stopped";
    case Outcome::kStopped:
      return "fill_stopped";
  }
  return "fill_?";
}

bool BackgroundFill::transitionAllowed(Phase from, Phase to) {
  switch (to) {
    case Phase::kIdle:
      return false;
    case Phase::kFilling:
      return from == Phase::kIdle;
    case Phase::kDone:
      return from != Phase::kDone;
  }
  return false;
}

void BackgroundFill::enter(Phase to) {
  PC_DEBUG_ASSERT(transitionAllowed(phase_, to), "BackgroundFill phase transition");
  const Phase from = phase_;
  phase_ = to;
  if (context_.observer != nullptr) {
    context_.observer->onPhase("fill", phaseName(from), phaseName(to));
  }
}

void BackgroundFill::start() {
  started_ = context_.clock->steadyNow();
  context_.stats->backgroundFillStarted();
  upstream_->adopt(*this, request_, target_, body_);
  store_->adopt(request_, target_, addresses_);
  enter(Phase::kFilling);
}

void BackgroundFill::teeBody(evbuffer* body, size_t n) {
  if (const size_t take = toStore(n); take > 0) store_->tee(body, take);
  afterTee(n);
}

void BackgroundFill::teeBody(std::string_view bytes) {
  if (const size_t take = toStore(bytes.size()); take > 0) store_->tee(bytes.substr(0, take));
  afterTee(bytes.size());
}

size_t BackgroundFill::toStore(size_t n) const {
  if (pending_) return 0;
  if (plan_.kind != FillPlan::Kind::kToUnitEnd) return n;
  // The slice's end: bytes of the next slice would open a writer only to drop it.
  return static_cast<size_t>(std::min<uint64_t>(n, plan_.bytes - std::min(read_, plan_.bytes)));
}

void BackgroundFill::afterTee(size_t n) {
  read_ += n;
  if (phase_ != Phase::kFilling || pending_) return;
  if (plan_.kind == FillPlan::Kind::kToUnitEnd && read_ >= plan_.bytes) {
    // The slice a 200 was being stored into is whole (SlicedWriter committed
    // it); the rest of the object is not this fill's to fetch.
    endSoon(Outcome::kCompleted, {});
  } else if (!store_->storing()) {
    endSoon(Outcome::kStorageStopped, "the cache stopped storing the object");
  } else if (plan_.kind == FillPlan::Kind::kCapped && read_ > plan_.bytes) {
    // No Content-Length: fill_after_abort more bytes and still no end.
    store_->abort();  // waiters stop here, not later
    endSoon(Outcome::kOverLimit, "more than fill_after_abort without the client");
  }
}

void BackgroundFill::responseComplete() {
  if (pending_) {
    end(*pending_, pendingError_);  // the end of the body raced an earlier ending
    return;
  }
  store_->commit();
  upstream_->release(upstream_->reusable() && body_.done);
  end(Outcome::kCompleted, {});
}

void BackgroundFill::responseBroken(std::string error) {
  context_.stats->upstreamError();
  end(Outcome::kOriginBroken, std::move(error));
}

void BackgroundFill::upstreamFailed(ErrorReply, std::string logError, bool, bool) {
  end(Outcome::kOriginBroken, std::move(logError));
}

void BackgroundFill::endSoon(Outcome outcome, std::string error) {
  if (pending_) return;
  pending_ = outcome;
  pendingError_ = std::move(error);
  event_active(endSoon_.get(), 0, 0);
}

void BackgroundFill::onEndSoon(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<BackgroundFill*>(arg);
  try {
    self->end(self->pending_.value_or(Outcome::kCompleted), self->pendingError_);
  } catch (...) {
    self->registry_.retire(self);
  }
}

void BackgroundFill::end(Outcome outcome, std::string error) {
  if (phase_ == Phase::kDone) return;
  if (endSoon_) event_del(endSoon_.get());
  // Whole (committed already when the body ended, idempotent): waiters see
  // it complete. Not whole: what was stored is aborted, waiters see the
  // fetch fail.
  if (outcome == Outcome::kCompleted) {
    store_->commit();
  } else {
    store_->abort();
  }
  upstream_->release(false);
  if (phase_ != Phase::kDone) enter(Phase::kDone);
  record_.termination = outcomeName(outcome);
  record_.error = std::move(error);
  const auto elapsed = context_.clock->steadyNow() - started_;
  record_.durationMs = std::chrono::duration<double, std::milli>(elapsed).count();
  context_.stats->backgroundFillEnded(record_);
  const auto& hooks = *context_.hooks;
  if (hooks.access) hooks.access(record_);
  registry_.retire(this);
}

// ---------------------------------------------------------------- registry

BackgroundFills::BackgroundFills(ProxyContext& context, size_t maxFills)
    : context_(context), maxFills_(maxFills) {
  reap_.reset(event_new(context.base, -1, 0, &BackgroundFills::onReap, this));
}

BackgroundFills::~BackgroundFills() {
  for (size_t i = 0; i < live_.size(); ++i) context_.stats->backgroundFillAbandoned();
  live_.clear();
  retired_.clear();
}

std::optional<FillPlan> BackgroundFills::planFor(const UpstreamRequest& upstream, bool storing,
                                                 std::optional<uint64_t> unitLeft) const {
  if (!storing || upstream.phase() != UpstreamRequest::Phase::kRelayingBody) return std::nullopt;
  if (live_.size() >= maxFills_ || (context_.shuttingDown && context_.shuttingDown())) {
    return std::nullopt;
  }
  const auto live = context_.config ? context_.config() : nullptr;
  const uint64_t limit = live ? live->cache.fillAfterAbort : 0;
  std::optional<uint64_t> bodyLeft;
  if (upstream.framing().kind == http::BodyKind::kContentLength) bodyLeft = upstream.bodyLeft();
  return planFill(limit, bodyLeft, unitLeft);
}

void BackgroundFills::adopt(FillHandover& parts, FillPlan plan) {
  auto fill = std::make_unique<BackgroundFill>(context_, *this, parts, plan);
  auto* raw = fill.get();
  live_.emplace(raw, std::move(fill));
  raw->start();
}

void BackgroundFills::stopAll() {
  std::vector<BackgroundFill*> all;
  all.reserve(live_.size());
  for (auto& [raw, fill] : live_) all.push_back(raw);
  for (auto* f : all) f->stop();
}

void BackgroundFills::retire(BackgroundFill* fill) {
  auto it = live_.find(fill);
  if (it == live_.end()) return;
  retired_.push_back(std::move(it->second));
  live_.erase(it);
  event_active(reap_.get(), 0, 0);
}

void BackgroundFills::onReap(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<BackgroundFills*>(arg);
  auto dead = std::move(self->retired_);
  self->retired_.clear();
  dead.clear();
}

}  // namespace portcullis::proxy
