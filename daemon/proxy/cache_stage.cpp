// CacheStage, serving side: lookup, hits from RAM or disk (sendfile), the
// client's conditionals and ranges on a stored response, stale on error and
// serving without DNS. The storing side is in cache_store.cpp.

#include "daemon/proxy/cache_stage.h"

#include <event2/buffer.h>

#include <algorithm>

#include "cache/policy/cache_control.h"
#include "cache/policy/invalidation.h"
#include "cache/policy/range.h"
#include "cache/policy/slice_plan.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"
#include "daemon/admin/stats.h"
#include "daemon/base/assert.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/decision_record.h"
#include "daemon/proxy/forwarding.h"
#include "daemon/proxy/sliced_fetch.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

namespace policy = cache::policy;

policy::PolicyOptions cachePolicyOptions(const config::Config& config, const http::Target& target) {
  policy::PolicyOptions o;
  o.serveStaleOnOriginError = config.cache.serveStaleOnError;
  if (const auto* rule = config.cache.rules->refreshFor(target)) o.refresh = rule->heuristic;
  return o;
}

namespace {
// Up to this size a RAM body is copied into the output (one writev with the
// head); beyond it the output references the shared body.
constexpr size_t kCopyMax = 16 * 1024;

void releaseSharedBody(const void*, size_t, void* keep) {
  delete static_cast<cache::SharedBody*>(keep);
}

http::ResponseHead headOf(const policy::StoredResponse& stored) {
  http::ResponseHead head;
  head.status = stored.status;
  head.reason = stored.reason;
  head.headers = stored.headers;
  return head;
}
}  // namespace

CacheStage::CacheStage(ProxyContext& context, Owner& owner) : context_(context), owner_(&owner) {
  progressTimer_.reset(evtimer_new(context.base, &CacheStage::onProgressTimer, this));
}

CacheStage::~CacheStage() {
  end(InFlightFetch::Phase::kFailed);
}

std::string_view CacheStage::phaseName(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "Idle";
    case Phase::kServing:
      return "Serving";
    case Phase::kRevalidating:
      return "Revalidating";
    case Phase::kFetching:
      return "Fetching";
    case Phase::kStoring:
      return "Storing";
    case Phase::kDone:
      return "Done";
  }
  return "?";
}

bool CacheStage::transitionAllowed(Phase from, Phase to) {
  using P = Phase;
  switch (to) {
    case P::kIdle:  // a new request
    case P::kDone:  // any phase may end
      return true;
    case P::kServing:
      return from == P::kIdle || from == P::kRevalidating || from == P::kFetching;
    case P::kRevalidating:
      return from == P::kIdle;
    case P::kFetching:  // a miss, or a 304 that matched nothing
      return from == P::kIdle || from == P::kRevalidating;
    case P::kStoring:
      return from == P::kFetching || from == P::kRevalidating;
  }
  return false;
}

void CacheStage::enter(Phase to) {
  PC_DEBUG_ASSERT(transitionAllowed(phase_, to), "CacheStage phase transition");
  const Phase from = phase_;
  phase_ = to;
  if (context_.observer != nullptr && from != to) {
    context_.observer->onPhase("cache", phaseName(from), phaseName(to));
  }
}

void CacheStage::begin(std::shared_ptr<const config::Config> config,
                       const http::RequestHead& request, const http::Target& target,
                       const std::vector<acl::IpAddress>& addresses) {
  config_ = std::move(config);
  request_ = &request;
  target_ = &target;
  addresses_ = &addresses;
  eligible_ = false;
  key_.clear();
  stored_.reset();
  evaluation_ = policy::Evaluation{};
  fetchWholeForRange_ = false;
  unannouncedBytes_ = 0;
  enter(Phase::kIdle);
}

void CacheStage::end(InFlightFetch::Phase leadOutcome) {
  if (writer_ || sliced_) finishWrite(false);
  leaveFetch(leadOutcome);
  if (progressTimer_) evtimer_del(progressTimer_.get());
  if (phase_ != Phase::kIdle && phase_ != Phase::kDone) enter(Phase::kDone);
}

bool CacheStage::lookup() {
  cache::Cache* store = context_.cache;
  const auto& request = *request_;
  const auto m = request.methodKind;
  if (store == nullptr || (m != http::Method::kGet && m != http::Method::kHead)) {
    enter(Phase::kDone);
    return false;
  }
  eligible_ = true;
  key_ = config_->cache.rules->primaryKey(*target_);
  owner_->record().cache = log::CacheResult::kMiss;
  auto now = context_.clock->systemNow();
  auto entry = store->lookup(key_, request.headers);
  // A copy fetched from an address this client may not reach is not its to
  // read (the name may point elsewhere now): treat it as a miss.
  if (entry && !mayReadCopyFrom(entry->originAddress)) entry.reset();
  if (entry) {
    evaluation_ =
        policy::evaluate(request, entry->response, now, cachePolicyOptions(*config_, *target_));
    if (evaluation_.usability != policy::Usability::kMustRevalidate) {
      if (serveStored(entry, evaluation_.age, log::CacheResult::kHit)) return true;
      enter(Phase::kIdle);  // lookup again from the start, as a miss
      entry.reset();        // body unreadable: fetch as a miss
    } else {
      stored_ = entry;  // revalidate upstream with its validators
    }
  }
  // RFC 9111 §5.2.1.7: only-if-cached and nothing usable -> 504, no fetch.
  if ((!entry || evaluation_.usability == policy::Usability::kMustRevalidate) &&
      policy::parseCacheControl(request.headers).onlyIfCached) {
    enter(Phase::kDone);
    owner_->answer(errorReply(Termination::kNotInCache,
                              "The request said only-if-cached and the cache has no usable copy."),
                   false);
    return true;
  }
  if (stored_) {
    enter(Phase::kRevalidating);
    return false;
  }
  enter(Phase::kFetching);
  if (trySliced()) return true;
  if (policy::fetchWholeForRange(request, config_->cache.rangeFetchWholeMax)) {
    fetchWholeForRange_ = true;  // not collapsed: the fetch ends in a 206 for this client
    return false;
  }
  return joinFetch();
}

bool CacheStage::joinFetch() {
  const auto& request = *request_;
  if (request.methodKind != http::Method::kGet || !config_->cache.collapsedForwarding ||
      request.headers.has("Authorization") || request.headers.has("Range")) {
    return false;
  }
  bool leader = false;
  auto fetch = context_.collapsed->join(key_, owner_->waiterWake(), leader);
  if (!fetch) return false;  // the fetch ended as we joined: go alone
  if (leader) {
    fetch_ = std::move(fetch);
    return false;
  }
  // A waiter: parked until the leader's head (or failure) arrives. The
  // stage stays kFetching: a waiter that may not share fetches alone.
  owner_->record().cache = log::CacheResult::kCollapsed;
  owner_->waitForFetch(std::move(fetch));
  return true;
}

bool CacheStage::trySliced() {
  const auto& cacheConfig = config_->cache;
  if (cacheConfig.sliceSize == 0 || request_->headers.has("Authorization") ||
      !owner_->mayFetchSlices()) {
    return false;
  }
  const auto descriptorKey = policy::descriptorKey(key_);
  static const http::HeaderMap kNoFields;
  auto descriptor = context_.cache->lookup(descriptorKey, kNoFields);
  if (descriptor && !mayReadCopyFrom(descriptor->originAddress)) descriptor.reset();
  if (descriptor) {
    auto evaluation = policy::evaluate(*request_, descriptor->response, context_.clock->systemNow(),
                                       cachePolicyOptions(*config_, *target_));
    if (evaluation.usability == policy::Usability::kMustRevalidate) {
      // Stale: probe again. The same version (validators and length) finds
      // its slices again; another version starts afresh.
      context_.cache->invalidate(descriptorKey);
      descriptor.reset();
    } else {
      // RFC 9110 §13.2.2: the client's conditionals against the object's
      // head (its validators), before any slice is read: 304 or 412.
      if (policy::evaluateClientConditional(*request_, descriptor->response) !=
          policy::ClientConditional::kNone) {
        owner_->record().slice = "sliced";
        enter(Phase::kServing);
        return answerConditional(*descriptor, evaluation.age, log::CacheResult::kHit);
      }
    }
  }
  if (!descriptor && !SlicedFetch::mayProbe(*request_, cacheConfig)) return false;
  owner_->serveSliced(key_, std::move(descriptor));
  return true;
}

bool CacheStage::answerConditional(const cache::StoredEntry& entry, int64_t age,
                                   log::CacheResult result) {
  auto& record = owner_->record();
  auto conditional = policy::evaluateClientConditional(*request_, entry.response);
  if (conditional == policy::ClientConditional::kNotModified) {
    auto head = policy::buildNotModified(entry.response, age);
    owner_->writeToClient(buildClientResponse(head, BodyEncoding::kNone, 0, !owner_->keepAlive(),
                                              config_->server.viaPseudonym));
    record.status = 304;
    record.cache = result;
    enter(Phase::kDone);
    owner_->servedFromCache();
    return true;
  }
  if (conditional == policy::ClientConditional::kPreconditionFailed) {
    record.cache = result;
    enter(Phase::kDone);
    owner_->answer(errorReply(Termination::kPreconditionFailed,
                              "The stored response does not satisfy the request's preconditions."),
                   false);
    return true;
  }
  return false;
}

bool CacheStage::serveStored(const std::shared_ptr<const cache::StoredEntry>& entry, int64_t age,
                             log::CacheResult result) {
  const auto& request = *request_;
  auto& record = owner_->record();
  const auto& pseudonym = config_->server.viaPseudonym;
  enter(Phase::kServing);
  if (answerConditional(*entry, age, result)) return true;
  // Small bodies come from RAM: head and body leave in one writev.
  const bool headOnly = request.methodKind == http::Method::kHead;
  cache::SharedBody inMemory = headOnly ? nullptr : context_.cache->memoryBody(*entry);
  Result<UniqueFd> body =
      inMemory ? Result<UniqueFd>(UniqueFd()) : context_.cache->openBody(*entry);
  if (!body.ok()) return false;
  auto head = headOf(entry->response);
  head.headers.remove("Age");
  http::HeaderMap extra;
  extra.add("Age", std::to_string(std::max<int64_t>(0, age)));
  uint64_t offset = 0;
  uint64_t length = entry->bodySize;
  auto range = policy::rangeForRequest(request, entry->response, entry->bodySize);
  if (range.kind == policy::RangeSpec::Kind::kSatisfiable) {
    head.status = 206;
    head.reason = "Partial Content";
    head.headers.set("Content-Range", policy::contentRangeValue(range, entry->bodySize));
    offset = range.first;
    length = range.length();
  } else if (range.kind == policy::RangeSpec::Kind::kUnsatisfiable) {
    head.status = 416;
    head.reason = "Range Not Satisfiable";
    head.headers.set("Content-Range", policy::contentRangeValue(range, entry->bodySize));
    length = 0;
  }
  owner_->writeToClient(buildClientResponse(head, BodyEncoding::kContentLength, length,
                                            !owner_->keepAlive(), pseudonym, &extra));
  if (!headOnly && length > 0 && !writeStoredBody(*entry, inMemory, *body, offset, length)) {
    return false;
  }
  context_.stats->cacheObjectServed(key_, entry->bodySize, headOnly ? 0 : length);
  record.status = head.status;
  record.cache = result;
  enter(Phase::kDone);
  owner_->servedFromCache();
  return true;
}

bool CacheStage::writeStoredBody(const cache::StoredEntry&, const cache::SharedBody& inMemory,
                                 UniqueFd& file, uint64_t offset, uint64_t length) {
  evbuffer* out = owner_->clientOutput();
  if (inMemory) {
    if (length <= kCopyMax) {
      evbuffer_add(out, inMemory->data() + offset, length);
    } else {
      // Larger bodies are referenced, not copied: the chain keeps the
      // shared body alive until libevent has sent it.
      auto* keep = new cache::SharedBody(inMemory);
      if (evbuffer_add_reference(out, inMemory->data() + offset, length, &releaseSharedBody,
                                 keep) != 0) {
        delete keep;
        return false;
      }
    }
  } else {
    // sendfile from the page cache; libevent closes the fd when sent.
    evbuffer_add_file(out, file.release(), static_cast<ev_off_t>(offset),
                      static_cast<ev_off_t>(length));
  }
  owner_->record().bytesOut += length;
  return true;
}

bool CacheStage::mayReadCopyFrom(std::string_view originAddress) const {
  // A copy fetched through a parent proxy: the parent resolved the name,
  // and this request was admitted by the same rules (by name, and by its
  // addresses when it went direct) before the cache was asked.
  if (originAddress.starts_with("parent:")) return true;
  auto origin = acl::IpAddress::parse(originAddress);
  if (!origin) return false;  // stored before origins were recorded: cannot check
  const auto& resolved = *addresses_;
  if (std::find(resolved.begin(), resolved.end(), *origin) != resolved.end()) {
    return true;  // checked for this client a moment ago (after DNS)
  }
  return owner_->admitAddresses({*origin}).allowed();
}

bool CacheStage::serveWithoutDns() {
  cache::Cache* store = context_.cache;
  const auto& request = *request_;
  const auto m = request.methodKind;
  if (store == nullptr || !config_->cache.serveStaleOnError ||
      (m != http::Method::kGet && m != http::Method::kHead)) {
    return false;
  }
  auto key = config_->cache.rules->primaryKey(*target_);
  auto entry = store->lookup(key, request.headers);
  if (!entry) return false;
  auto origin = acl::IpAddress::parse(entry->originAddress);
  if (!origin) return false;  // stored before origins were recorded: cannot check
  // The same rules as after a successful lookup, on the address the copy
  // came from: a client may not read what it could not have fetched.
  auto decision = owner_->admitAddresses({*origin});
  if (!decision.allowed()) return false;
  auto evaluation = policy::evaluate(request, entry->response, context_.clock->systemNow(),
                                     cachePolicyOptions(*config_, *target_));
  log::CacheResult result = log::CacheResult::kHit;
  if (evaluation.usability == policy::Usability::kMustRevalidate) {
    if (!evaluation.staleOnErrorAllowed) return false;
    result = log::CacheResult::kStale;
  }
  eligible_ = true;
  key_ = std::move(key);
  auto& record = owner_->record();
  recordDecision(record, decision);
  return serveStored(entry, evaluation.age, result);
}

bool CacheStage::serveStaleOnError(UpstreamRequest& upstream) {
  if (!stored_ || !evaluation_.staleOnErrorAllowed) return false;
  auto entry = stored_;
  stored_.reset();
  upstream.release(false);
  return serveStored(entry, evaluation_.age, log::CacheResult::kStale);
}

}  // namespace portcullis::proxy
