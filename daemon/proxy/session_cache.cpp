// ClientSession, cache side: hits from disk and RAM, revalidation, and
// storing a response while relaying it (collapsed forwarding: session_collapsed.cpp).

#include <event2/buffer.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cache/policy/cache_control.h"
#include "cache/policy/invalidation.h"
#include "cache/policy/range.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"
#include "daemon/http/framing.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/client_session.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

namespace policy = cache::policy;

namespace {
policy::PolicyOptions policyOptions(const config::Config& config) {
  policy::PolicyOptions o;
  o.serveStaleOnOriginError = config.cache.serveStaleOnError;
  return o;
}

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

void ClientSession::onCacheWake(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [&](ClientSession* self) {
    if (self->state_ == State::kWaitingForFetch) self->continueWaiting();
  });
}

bool ClientSession::tryCache() {
  auto& t = txn_;
  cache::Cache* store = context_.cache;
  const auto m = t.request.methodKind;
  if (store == nullptr || (m != http::Method::kGet && m != http::Method::kHead)) return false;
  t.cacheEligible = true;
  t.cacheKey = policy::primaryKey(t.target);
  t.record.cache = log::CacheResult::kMiss;
  auto now = context_.clock->systemNow();
  auto entry = store->lookup(t.cacheKey, t.request.headers);
  // A copy fetched from an address this client may not reach is not its to
  // read (the name may point elsewhere now): treat it as a miss.
  if (entry && !mayReadCopyFrom(entry->originAddress)) entry.reset();
  if (entry) {
    t.evaluation = policy::evaluate(t.request, entry->response, now, policyOptions(*t.config));
    if (t.evaluation.usability != policy::Usability::kMustRevalidate) {
      if (serveStored(entry, t.evaluation.age, log::CacheResult::kHit)) return true;
      entry.reset();  // body unreadable: fetch as a miss
    } else {
      t.stored = entry;  // revalidate upstream with its validators
    }
  }
  // RFC 9111 §5.2.1.7: only-if-cached and nothing usable -> 504, no fetch.
  if ((!entry || t.evaluation.usability == policy::Usability::kMustRevalidate) &&
      policy::parseCacheControl(t.request.headers).onlyIfCached) {
    ErrorReply e = errorReply(Termination::kNotInCache,
                              "The request said only-if-cached and the cache has no usable copy.");
    reply(std::move(e), false);
    return true;
  }
  if (!t.stored && policy::fetchWholeForRange(t.request, t.config->cache.rangeFetchWholeMax)) {
    t.fetchWholeForRange = true;  // not collapsed: the fetch ends in a 206 for this client
    return false;
  }
  if (t.stored || m != http::Method::kGet || !t.config->cache.collapsedForwarding ||
      t.request.headers.has("Authorization") || t.request.headers.has("Range")) {
    return false;
  }
  auto fetch = context_.collapsed->join(t.cacheKey, cacheWake_.get(), t.leader);
  if (!fetch) return false;  // the fetch ended as we joined: go alone
  t.fetch = std::move(fetch);
  if (t.leader) return false;
  // A waiter: parked until the leader's head (or failure) arrives.
  enter(State::kWaitingForFetch);
  bufferevent_disable(client_.get(), EV_READ);
  t.record.cache = log::CacheResult::kCollapsed;
  continueWaiting();
  return true;
}

bool ClientSession::serveStored(const std::shared_ptr<const cache::StoredEntry>& entry, int64_t age,
                                log::CacheResult result) {
  auto& t = txn_;
  cache::Cache* store = context_.cache;
  const auto& pseudonym = t.config->server.viaPseudonym;
  http::HeaderMap extra;
  extra.add("Age", std::to_string(std::max<int64_t>(0, age)));
  auto conditional = policy::evaluateClientConditional(t.request, entry->response);
  if (conditional == policy::ClientConditional::kNotModified) {
    auto head = policy::buildNotModified(entry->response, age);
    writeToClient(buildClientResponse(head, BodyEncoding::kNone, 0, !t.keepAlive, pseudonym));
    t.record.status = 304;
    t.record.cache = result;
    finishTransaction();
    return true;
  }
  auto head = headOf(entry->response);
  head.headers.remove("Age");
  if (conditional == policy::ClientConditional::kPreconditionFailed) {
    t.record.cache = result;
    ErrorReply e = errorReply(Termination::kPreconditionFailed,
                              "The stored response does not satisfy the request's preconditions.");
    reply(std::move(e), false);
    return true;
  }
  // Small bodies come from RAM: head and body leave in one writev.
  cache::SharedBody inMemory =
      t.request.methodKind == http::Method::kHead ? nullptr : store->memoryBody(*entry);
  Result<UniqueFd> body = inMemory ? Result<UniqueFd>(UniqueFd()) : store->openBody(*entry);
  if (!body.ok()) return false;
  uint64_t offset = 0;
  uint64_t length = entry->bodySize;
  auto range = policy::rangeForRequest(t.request, entry->response, entry->bodySize);
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
  writeToClient(buildClientResponse(head, BodyEncoding::kContentLength, length, !t.keepAlive,
                                    pseudonym, &extra));
  if (t.request.methodKind != http::Method::kHead && length > 0 && inMemory) {
    evbuffer* out = bufferevent_get_output(client_.get());
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
    t.record.bytesOut += length;
  } else if (t.request.methodKind != http::Method::kHead && length > 0) {
    // sendfile from the page cache; libevent closes the fd when sent.
    evbuffer_add_file(bufferevent_get_output(client_.get()), body->release(),
                      static_cast<ev_off_t>(offset), static_cast<ev_off_t>(length));
    t.record.bytesOut += length;
  }
  t.record.status = head.status;
  t.record.cache = result;
  finishTransaction();
  return true;
}

bool ClientSession::prepareRangeCut(http::ResponseHead& clientHead, uint64_t& clientLength) {
  auto& t = txn_;
  if (!t.fetchWholeForRange || t.response.status != 200) return true;
  const bool known = t.responseFraming.kind == http::BodyKind::kContentLength;
  if (!known || t.responseFraming.length > t.config->cache.rangeFetchWholeMax) {
    // Too big (or unknown) to fetch whole for a range: ask for just the range.
    t.fetchWholeForRange = false;
    releaseUpstream(false);
    t.nextAddress = t.nextAddress > 0 ? t.nextAddress - 1 : 0;
    connectUpstream();
    return false;
  }
  policy::StoredResponse whole;
  whole.status = t.response.status;
  whole.headers = t.response.headers;
  const uint64_t size = t.responseFraming.length;
  auto range = policy::rangeForRequest(t.request, whole, size);
  if (range.kind == policy::RangeSpec::Kind::kNone) return true;  // e.g. If-Range mismatch: 200
  t.sliceForClient = true;
  clientHead.headers.set("Content-Range", policy::contentRangeValue(range, size));
  if (range.kind == policy::RangeSpec::Kind::kSatisfiable) {
    clientHead.status = 206;
    clientHead.reason = "Partial Content";
    t.sliceSkip = range.first;
    t.sliceLeft = range.length();
  } else {
    clientHead.status = 416;
    clientHead.reason = "Range Not Satisfiable";
    t.sliceSkip = size;
    t.sliceLeft = 0;
  }
  clientLength = t.sliceLeft;
  return true;
}

bool ClientSession::onResponseHeadForCache() {
  auto& t = txn_;
  cache::Cache* store = context_.cache;
  if (store == nullptr) return false;
  t.responseAt = context_.clock->systemNow();
  // Unsafe methods invalidate what they may have changed (RFC 9111 §4.4).
  for (const auto& key : policy::invalidationKeys(t.request, t.target, t.response)) {
    store->invalidate(key);
    context_.collapsed->forget(key);
  }
  if (!t.cacheEligible) return false;
  if (t.stored) {
    if (t.response.status == 304 && policy::notModifiedMatches(t.stored->response, t.response)) {
      // The client gets the merge with the 304's Set-Cookie; the cache the
      // merge without it, or no entry if the 304 made it unstorable. Served
      // first (its body is then open) and from copies: serveStored ends txn_.
      const auto stored = t.stored;
      const http::RequestHead request = t.request;
      const http::ResponseHead notModified = t.response;
      const auto sentAt = t.requestSentAt, receivedAt = t.responseAt;
      const auto options = policyOptions(*t.config);
      auto forClient = std::make_shared<cache::StoredEntry>(*stored);
      forClient->response =
          policy::mergeForClient(stored->response, notModified, sentAt, receivedAt);
      releaseUpstream(t.upstreamReusable);
      const bool served = serveStored(forClient, 0, log::CacheResult::kRevalidated);
      store->updateHeaders(*stored, request, notModified, sentAt, receivedAt, options);
      if (served) return true;
    } else if (t.response.status == 304) {
      // §4.3.4: a 304 that selects no stored response (another strong ETag)
      // updates nothing, and the client's request carried only our
      // validators: ask once more, unconditionally.
      t.stored.reset();
      releaseUpstream(t.upstreamReusable);
      t.nextAddress = t.nextAddress > 0 ? t.nextAddress - 1 : 0;
      connectUpstream();
      return true;
    }
    if (t.response.status >= 500 && serveStaleOnError()) return true;
  }
  const bool storable = t.request.methodKind == http::Method::kGet &&
                        policy::isStorable(t.request, t.response, policyOptions(*t.config));
  if (storable) {
    cache::WriteRequest w;
    w.key = t.cacheKey;
    w.requestHeaders = t.request.headers;
    w.response = t.response;
    w.requestTime = t.requestSentAt;
    w.responseTime = t.responseAt;
    if (t.responseFraming.kind == http::BodyKind::kContentLength) {
      w.expectedLength = t.responseFraming.length;
    }
    if (t.upstream) {
      if (auto ip = t.upstream->address.ip()) w.originAddress = ip->toString();
    }
    auto writer = store->beginWrite(std::move(w));
    if (writer.ok()) {
      t.writer = std::move(writer.value());
    } else {
      context_.noteCacheStorage(&writer.error());
    }
  }
  if (t.fetch && t.leader) {
    if (t.writer) {
      auto names = policy::varyFieldNames(t.response.headers);
      auto secondary = policy::secondaryKey(names, t.request.headers);
      std::string origin;
      if (t.upstream) {
        if (auto ip = t.upstream->address.ip()) origin = ip->toString();
      }
      t.fetch->publishHead(t.response, std::move(names), std::move(secondary), t.writer->progress(),
                           std::move(origin));
    } else {
      leaveFetch(InFlightFetch::Phase::kUncacheable);
    }
  }
  return false;
}

void ClientSession::teeToCache(evbuffer* body, size_t n) {
  if (!txn_.writer || n == 0) return;
  // Peek without copying the evbuffer chain, then append each piece.
  int count = evbuffer_peek(body, static_cast<ev_ssize_t>(n), nullptr, nullptr, 0);
  std::vector<evbuffer_iovec> vec(static_cast<size_t>(std::max(count, 0)));
  evbuffer_peek(body, static_cast<ev_ssize_t>(n), nullptr, vec.data(), count);
  size_t left = n;
  for (const auto& v : vec) {
    size_t take = std::min(left, v.iov_len);
    if (!appendToCache(std::string_view(static_cast<const char*>(v.iov_base), take))) return;
    left -= take;
    if (left == 0) break;
  }
  noteLeaderProgress(n);
}

void ClientSession::teeToCache(std::string_view bytes) {
  if (!txn_.writer || bytes.empty()) return;
  if (appendToCache(bytes)) noteLeaderProgress(bytes.size());
}

bool ClientSession::appendToCache(std::string_view bytes) {
  auto& t = txn_;
  if (auto appended = t.writer->append(bytes); !appended.ok()) {
    // Too big or disk trouble: keep relaying, uncached.
    context_.noteCacheStorage(&appended.error());
    t.writer.reset();
    if (t.fetch && t.leader) leaveFetch(InFlightFetch::Phase::kFailed);
    return false;
  }
  return true;
}

void ClientSession::finishCacheWrite(bool complete) {
  auto& t = txn_;
  bool committed = false;
  if (t.writer) {
    if (complete) {
      auto result = t.writer->commit();
      committed = result.ok();
      context_.noteCacheStorage(committed ? nullptr : &result.error());
    } else {
      t.writer->abort();
    }
    t.writer.reset();
  }
  if (t.fetch && t.leader) {
    leaveFetch(committed ? InFlightFetch::Phase::kComplete
                         : (complete ? InFlightFetch::Phase::kUncacheable
                                     : InFlightFetch::Phase::kFailed));
  }
}

bool ClientSession::mayReadCopyFrom(std::string_view originAddress) const {
  auto origin = acl::IpAddress::parse(originAddress);
  if (!origin) return false;  // stored before origins were recorded: cannot check
  const auto& resolved = txn_.addresses;
  if (std::find(resolved.begin(), resolved.end(), *origin) != resolved.end()) {
    return true;  // checked for this client a moment ago (onResolved)
  }
  return checkAddresses({*origin}).allowed();
}

bool ClientSession::serveStoredWithoutDns() {
  auto& t = txn_;
  cache::Cache* store = context_.cache;
  const auto m = t.request.methodKind;
  if (store == nullptr || !t.config->cache.serveStaleOnError ||
      (m != http::Method::kGet && m != http::Method::kHead)) {
    return false;
  }
  const auto key = policy::primaryKey(t.target);
  auto entry = store->lookup(key, t.request.headers);
  if (!entry) return false;
  auto origin = acl::IpAddress::parse(entry->originAddress);
  if (!origin) return false;  // stored before origins were recorded: cannot check
  // The same rules as after a successful lookup, on the address the copy
  // came from: a client may not read what it could not have fetched.
  auto decision = checkAddresses({*origin});
  if (!decision.allowed()) return false;
  auto evaluation = policy::evaluate(t.request, entry->response, context_.clock->systemNow(),
                                     policyOptions(*t.config));
  log::CacheResult result = log::CacheResult::kHit;
  if (evaluation.usability == policy::Usability::kMustRevalidate) {
    if (!evaluation.staleOnErrorAllowed) return false;
    result = log::CacheResult::kStale;
  }
  t.cacheEligible = true;
  t.cacheKey = key;
  t.record.rule = decision.rule;
  t.record.ruleWhere = decision.where.file.empty() ? "" : decision.where.toString();
  return serveStored(entry, evaluation.age, result);
}

bool ClientSession::serveStaleOnError() {
  auto& t = txn_;
  if (!t.stored || !t.evaluation.staleOnErrorAllowed) return false;
  auto entry = t.stored;
  t.stored.reset();
  releaseUpstream(false);
  return serveStored(entry, t.evaluation.age, log::CacheResult::kStale);
}

}  // namespace portcullis::proxy
