// UpstreamRequest, response side: the head (1xx relayed, bounded), the body
// reader chosen once from the framing, relaying the body to the client.

#include <event2/buffer.h>

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/http/framing.h"
#include "daemon/http/head_parser.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/session_util.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

using detail::badUpstreamResponse;
using detail::isIdempotent;
using detail::toTimeval;

http::ParseOutcome UpstreamRequest::parseInputHead(evbuffer* in, http::ResponseHead& head) const {
  const size_t maxHead = config_->server.maxHeaderBytes;
  const size_t view = std::min(evbuffer_get_length(in), maxHead + 1);
  const char* data =
      reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(view)));
  http::ParseLimits limits;
  limits.maxRequestLine = maxHead;
  limits.maxHeaderBytes = maxHead;
  auto outcome = http::parseResponseHead(std::string_view(data, view), limits, head);
  if (outcome.status == http::ParseStatus::kNeedMore && view > maxHead) {
    outcome = http::ParseOutcome::invalid(502, view, "response head too large");
  }
  return outcome;
}

void UpstreamRequest::readHead() {
  evbuffer* in = bufferevent_get_input(conn_->bev.get());
  for (;;) {
    if (evbuffer_get_length(in) == 0) return;
    http::ResponseHead head;
    auto outcome = parseInputHead(in, head);
    if (outcome.status == http::ParseStatus::kNeedMore) return;
    if (outcome.status == http::ParseStatus::kInvalid) {
      context_.stats->upstreamError();
      release(false);
      fail(badUpstreamResponse(
               "The origin server sent a response the proxy cannot pass on safely (" +
                   std::string(outcome.reason) + ").",
               outcome.reason),
           "bad upstream response: " + std::string(outcome.reason), false, true);
      return;
    }
    owner_->record().upstreamBytes += outcome.consumed;
    evbuffer_drain(in, outcome.consumed);
    if (head.status >= 100 && head.status < 200) {
      if (!relayInterim(std::move(head), outcome.consumed)) return;
      continue;
    }
    response_ = std::move(head);
    onFinalHead();
    return;
  }
}

namespace {
// An origin may send several interim responses (100, 102, 103 Early Hints)
// before the final one; more than this is a flood, not HTTP.
constexpr unsigned kMaxInterimResponses = 16;
}  // namespace

bool UpstreamRequest::relayInterim(http::ResponseHead head, size_t headBytes) {
  // 101 is impossible: Upgrade is never forwarded.
  if (head.status == 101) {
    release(false);
    fail(badUpstreamResponse("The origin server tried to switch protocols; this proxy never "
                             "forwards an Upgrade.",
                             "unexpected 101 Switching Protocols"),
         "", false, true);
    return false;
  }
  // Interim responses are bounded in number and in bytes together (one
  // head's worth), so an origin streaming 1xx forever to a client that
  // never reads cannot grow our memory.
  interimBytes_ += headBytes;
  if (++interimCount_ > kMaxInterimResponses || interimBytes_ > config_->server.maxHeaderBytes) {
    context_.stats->upstreamError();
    release(false);
    fail(badUpstreamResponse("The origin server sent too many interim (1xx) responses.",
                             "too many interim responses"),
         "bad upstream response: too many interim responses", false, true);
    return false;
  }
  // Interim responses go to 1.1 clients as they come (RFC 9110 §15.2).
  if (request_->versionMinor >= 1) {
    std::string interim;
    http::removeHopByHopFields(head.headers);
    http::writeResponseHead(interim, head.status, head.reason, head.headers);
    owner_->writeToClient(interim);
  }
  // Each read restarts libevent's read timeout; the final response must
  // still arrive within first_byte_timeout of the request being sent.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      firstByteDeadline_ - context_.clock->steadyNow());
  timeval rt = toTimeval(std::max(left, std::chrono::milliseconds(1)));
  timeval wt = toTimeval(config_->server.bodyTimeout);
  bufferevent_set_timeouts(conn_->bev.get(), &rt, &wt);
  return true;
}

void UpstreamRequest::onFinalHead() {
  if (parent_ != nullptr) rememberParentSession();
  auto framing = http::responseFraming(response_, request_->methodKind);
  if (!framing.ok()) {
    context_.stats->upstreamError();
    release(false);
    fail(badUpstreamResponse("The origin server's response framing is ambiguous (" +
                                 framing.error().message + "); the proxy will not pass it on.",
                             framing.error().message),
         "bad upstream framing: " + framing.error().message, false, true);
    return;
  }
  framing_ = *framing;
  bodyLeft_ = framing_.length;
  clientEncoding_ = clientBodyEncoding(framing_, request_->versionMinor);
  reusable_ = upstreamReusable(response_, framing_);
  if (!owner_->onResponseHead()) return;  // served from the cache, refetched or failed
  enter(Phase::kRelayingBody);
  // The body reader, chosen once (h2o's http1client installs one callback).
  switch (framing_.kind) {
    case http::BodyKind::kContentLength:
      reader_ = &UpstreamRequest::readContentLength;
      break;
    case http::BodyKind::kChunked:
      reader_ = &UpstreamRequest::readChunked;
      break;
    case http::BodyKind::kUntilClose:
      reader_ = &UpstreamRequest::readUntilClose;
      break;
    case http::BodyKind::kNone:
      reader_ = &UpstreamRequest::readNone;
      break;
  }
  timeval rt = toTimeval(config_->server.bodyTimeout);
  bufferevent_set_timeouts(conn_->bev.get(), &rt, nullptr);
  if (framing_.kind == http::BodyKind::kNone) {
    finishBody();
    return;
  }
  pumpBody();
}

void UpstreamRequest::pumpBody() {
  evbuffer* in = bufferevent_get_input(conn_->bev.get());
  // No client (a BackgroundFill adopted the request): the readers only tee.
  bufferevent* client = owner_->clientEvents();
  evbuffer* out = client != nullptr ? bufferevent_get_output(client) : nullptr;
  const bool done = (this->*reader_)(in, out);
  if (phase_ != Phase::kRelayingBody) return;  // the body broke
  if (done) {
    finishBody();
    return;
  }
  if (out != nullptr && evbuffer_get_length(out) >= config_->server.bufferBytes) {
    // Backpressure: a slow client never makes us hold more than the watermark.
    bufferevent_disable(conn_->bev.get(), EV_READ);
  }
}

void UpstreamRequest::resumeReading() {
  if (phase_ == Phase::kRelayingBody && conn_) bufferevent_enable(conn_->bev.get(), EV_READ);
}

bool UpstreamRequest::readContentLength(evbuffer* in, evbuffer* out) {
  auto& record = owner_->record();
  size_t n = static_cast<size_t>(std::min<uint64_t>(evbuffer_get_length(in), bodyLeft_));
  owner_->teeBody(in, n);
  size_t toClient = n;
  if (out == nullptr) {
    evbuffer_drain(in, n);
    toClient = 0;
  } else if (cut_) {  // the cache gets everything, the client its range
    const auto skip = static_cast<size_t>(std::min<uint64_t>(n, cutSkip_));
    evbuffer_drain(in, skip);
    cutSkip_ -= skip;
    toClient = static_cast<size_t>(std::min<uint64_t>(n - skip, cutLeft_));
    cutLeft_ -= toClient;
    if (toClient > 0) evbuffer_remove_buffer(in, out, toClient);
    evbuffer_drain(in, n - skip - toClient);
  } else if (n > 0) {
    evbuffer_remove_buffer(in, out, n);
  }
  bodyLeft_ -= n;
  record.upstreamBytes += n;
  record.bytesOut += toClient;
  return bodyLeft_ == 0;
}

bool UpstreamRequest::readChunked(evbuffer* in, evbuffer*) {
  const size_t avail = evbuffer_get_length(in);
  if (avail == 0) return false;
  const char* data =
      reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(avail)));
  scratch_.clear();
  auto outcome = chunks_.decode(std::string_view(data, avail), scratch_);
  if (outcome.status == http::ParseStatus::kInvalid) {
    // Headers already went out: all we can do is cut the transfer short.
    owner_->responseBroken("bad upstream chunking: " + std::string(outcome.reason));
    return false;
  }
  size_t used = outcome.status == http::ParseStatus::kDone ? outcome.consumed : avail;
  evbuffer_drain(in, used);
  owner_->record().upstreamBytes += used;
  owner_->teeBody(scratch_);
  if (!scratch_.empty()) {
    if (clientEncoding_ == BodyEncoding::kChunked) {
      std::string chunk;
      http::appendChunk(chunk, scratch_);
      owner_->writeToClient(chunk);
    } else {
      owner_->writeToClient(scratch_);
    }
  }
  const bool done = outcome.status == http::ParseStatus::kDone;
  if (done && evbuffer_get_length(in) > 0) reusable_ = false;
  return done;
}

bool UpstreamRequest::readUntilClose(evbuffer* in, evbuffer* out) {
  const size_t avail = evbuffer_get_length(in);
  if (avail == 0) return false;
  auto& record = owner_->record();
  record.upstreamBytes += avail;
  owner_->teeBody(in, avail);
  if (out == nullptr) {
    evbuffer_drain(in, avail);
  } else if (clientEncoding_ == BodyEncoding::kChunked) {
    const char* data =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(avail)));
    std::string chunk;
    http::appendChunk(chunk, std::string_view(data, avail));
    evbuffer_drain(in, avail);
    owner_->writeToClient(chunk);
  } else {
    evbuffer_remove_buffer(in, out, avail);
    record.bytesOut += avail;
  }
  return false;
}

bool UpstreamRequest::readNone(evbuffer*, evbuffer*) {
  return true;
}

void UpstreamRequest::finishBody() {
  if (clientEncoding_ == BodyEncoding::kChunked) {
    std::string last;
    http::appendLastChunk(last);
    owner_->writeToClient(last);
  }
  owner_->responseComplete();
}

void UpstreamRequest::onClosed(short what) {
  if (phase_ == Phase::kRelayingBody) {
    if (framing_.kind == http::BodyKind::kUntilClose && (what & BEV_EVENT_EOF)) {
      pumpBody();
      if (phase_ != Phase::kRelayingBody) return;
      reusable_ = false;
      finishBody();
      return;
    }
    owner_->responseBroken((what & BEV_EVENT_TIMEOUT) ? "upstream body timeout"
                                                      : "upstream closed mid-body");
    return;
  }
  // No final response yet.
  const bool timedOut = (what & BEV_EVENT_TIMEOUT) != 0;
  if (conn_ && conn_->reused && !bytesSeen_ && !retried_ && isIdempotent(request_->methodKind) &&
      body_->framing.kind == http::BodyKind::kNone) {
    // A pooled connection the origin had closed: try once on a fresh one.
    retried_ = true;
    conn_.reset();
    rewind();
    connect();
    return;
  }
  release(false);
  context_.stats->upstreamError();
  fail(errorReply(timedOut ? Termination::kOriginTimeout : Termination::kOriginClosed,
                  timedOut ? "The origin server accepted the request but did not answer in time."
                           : "The origin server closed the connection without answering."),
       timedOut ? "upstream first byte timeout" : "upstream closed before response", true, true);
}

}  // namespace portcullis::proxy
