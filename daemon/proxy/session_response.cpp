// ClientSession, response side: reading the origin's answer and relaying it.

#include <event2/buffer.h>

#include <algorithm>

#include "daemon/http/framing.h"
#include "daemon/http/head_parser.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/client_session.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::badUpstreamResponse;
using detail::isIdempotent;
using detail::protocolError;
using detail::toTimeval;

void ClientSession::readResponseHead() {
  auto& t = txn_;
  evbuffer* in = bufferevent_get_input(t.upstream->bev.get());
  const auto& server = t.config->server;
  for (;;) {
    size_t len = evbuffer_get_length(in);
    if (len == 0) return;
    size_t view = std::min(len, server.maxHeaderBytes + 1);
    const char* data =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(view)));
    http::ParseLimits limits;
    limits.maxRequestLine = server.maxHeaderBytes;
    limits.maxHeaderBytes = server.maxHeaderBytes;
    http::ResponseHead head;
    auto outcome = http::parseResponseHead(std::string_view(data, view), limits, head);
    if (outcome.status == http::ParseStatus::kNeedMore) {
      if (view > server.maxHeaderBytes) {
        outcome = http::ParseOutcome::invalid(502, view, "response head too large");
      } else {
        return;
      }
    }
    if (outcome.status == http::ParseStatus::kInvalid) {
      context_.stats->upstreamError();
      releaseUpstream(false);
      t.record.error = "bad upstream response: " + std::string(outcome.reason);
      reply(badUpstreamResponse(
          "The origin server sent a response the proxy cannot pass on safely (" +
              std::string(outcome.reason) + ").",
          outcome.reason));
      return;
    }
    t.record.upstreamBytes += outcome.consumed;
    evbuffer_drain(in, outcome.consumed);
    if (head.status >= 100 && head.status < 200) {
      if (!relayInterim(std::move(head), outcome.consumed)) return;
      continue;
    }
    t.response = std::move(head);
    startResponseBody();
    return;
  }
}

namespace {
// An origin may send several interim responses (100, 102, 103 Early Hints)
// before the final one; more than this is a flood, not HTTP.
constexpr unsigned kMaxInterimResponses = 16;
}  // namespace

bool ClientSession::relayInterim(http::ResponseHead head, size_t headBytes) {
  auto& t = txn_;
  // 101 is impossible: Upgrade is never forwarded.
  if (head.status == 101) {
    releaseUpstream(false);
    reply(
        badUpstreamResponse("The origin server tried to switch protocols; this proxy never "
                            "forwards an Upgrade.",
                            "unexpected 101 Switching Protocols"));
    return false;
  }
  // Interim responses are bounded in number and in bytes together (one
  // head's worth), so an origin streaming 1xx forever to a client that
  // never reads cannot grow our memory.
  t.interimBytes += headBytes;
  if (++t.interimCount > kMaxInterimResponses || t.interimBytes > t.config->server.maxHeaderBytes) {
    context_.stats->upstreamError();
    releaseUpstream(false);
    t.record.error = "bad upstream response: too many interim responses";
    reply(badUpstreamResponse("The origin server sent too many interim (1xx) responses.",
                              "too many interim responses"));
    return false;
  }
  // Interim responses go to 1.1 clients as they come (RFC 9110 §15.2).
  if (t.request.versionMinor >= 1) {
    std::string interim;
    http::removeHopByHopFields(head.headers);
    http::writeResponseHead(interim, head.status, head.reason, head.headers);
    writeToClient(interim);
  }
  // Each read restarts libevent's read timeout; the final response must
  // still arrive within first_byte_timeout of the request being sent.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      t.firstByteDeadline - context_.clock->steadyNow());
  timeval rt = toTimeval(std::max(left, std::chrono::milliseconds(1)));
  timeval wt = toTimeval(t.config->server.bodyTimeout);
  bufferevent_set_timeouts(t.upstream->bev.get(), &rt, &wt);
  return true;
}

void ClientSession::startResponseBody() {
  auto& t = txn_;
  auto framing = http::responseFraming(t.response, t.request.methodKind);
  if (!framing.ok()) {
    context_.stats->upstreamError();
    releaseUpstream(false);
    t.record.error = "bad upstream framing: " + framing.error().message;
    reply(badUpstreamResponse("The origin server's response framing is ambiguous (" +
                                  framing.error().message + "); the proxy will not pass it on.",
                              framing.error().message));
    return;
  }
  t.responseFraming = *framing;
  t.responseBodyLeft = t.responseFraming.length;
  t.clientEncoding = clientBodyEncoding(t.responseFraming, t.request.versionMinor);
  t.upstreamReusable = upstreamReusable(t.response, t.responseFraming);
  if (t.clientEncoding == BodyEncoding::kUntilClose) t.keepAlive = false;
  if (!t.requestBodyDone) t.keepAlive = false;  // the origin answered before the body ended
  http::ResponseHead clientHead;
  uint64_t clientLength = t.responseFraming.length;
  if (t.fetchWholeForRange) {
    clientHead = t.response;
    if (!prepareRangeCut(clientHead, clientLength)) return;
  }
  if (onResponseHeadForCache()) return;
  std::string head =
      buildClientResponse(t.sliceForClient ? clientHead : t.response, t.clientEncoding,
                          clientLength, !t.keepAlive, t.config->server.viaPseudonym);
  t.record.status = t.sliceForClient ? clientHead.status : t.response.status;
  writeToClient(head);
  enter(State::kRelayingResponse);
  timeval rt = toTimeval(t.config->server.bodyTimeout);
  bufferevent_set_timeouts(t.upstream->bev.get(), &rt, nullptr);
  if (t.responseFraming.kind == http::BodyKind::kNone) {
    finishResponseBody();
    return;
  }
  pumpResponseBody();
}

void ClientSession::pumpResponseBody() {
  auto& t = txn_;
  evbuffer* in = bufferevent_get_input(t.upstream->bev.get());
  evbuffer* out = bufferevent_get_output(client_.get());
  size_t avail = evbuffer_get_length(in);
  bool done = false;
  switch (t.responseFraming.kind) {
    case http::BodyKind::kContentLength: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(avail, t.responseBodyLeft));
      teeToCache(in, n);
      size_t toClient = n;
      if (t.sliceForClient) {  // the cache gets everything, the client its range
        const auto skip = static_cast<size_t>(std::min<uint64_t>(n, t.sliceSkip));
        evbuffer_drain(in, skip);
        t.sliceSkip -= skip;
        toClient = static_cast<size_t>(std::min<uint64_t>(n - skip, t.sliceLeft));
        t.sliceLeft -= toClient;
        if (toClient > 0) evbuffer_remove_buffer(in, out, toClient);
        evbuffer_drain(in, n - skip - toClient);
      } else if (n > 0) {
        evbuffer_remove_buffer(in, out, n);
      }
      t.responseBodyLeft -= n;
      t.record.upstreamBytes += n;
      t.record.bytesOut += toClient;
      done = t.responseBodyLeft == 0;
      break;
    }
    case http::BodyKind::kChunked: {
      if (avail == 0) break;
      const char* data =
          reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(avail)));
      scratch_.clear();
      auto outcome = t.responseChunks.decode(std::string_view(data, avail), scratch_);
      if (outcome.status == http::ParseStatus::kInvalid) {
        // Headers already went out: all we can do is cut the transfer short.
        cutShort("bad upstream chunking: " + std::string(outcome.reason));
        return;
      }
      size_t used = outcome.status == http::ParseStatus::kDone ? outcome.consumed : avail;
      evbuffer_drain(in, used);
      t.record.upstreamBytes += used;
      teeToCache(scratch_);
      if (!scratch_.empty()) {
        if (t.clientEncoding == BodyEncoding::kChunked) {
          std::string chunk;
          http::appendChunk(chunk, scratch_);
          writeToClient(chunk);
        } else {
          writeToClient(scratch_);
        }
      }
      done = outcome.status == http::ParseStatus::kDone;
      if (done && evbuffer_get_length(in) > 0) t.upstreamReusable = false;
      break;
    }
    case http::BodyKind::kUntilClose: {
      if (avail == 0) break;
      t.record.upstreamBytes += avail;
      teeToCache(in, avail);
      if (t.clientEncoding == BodyEncoding::kChunked) {
        const char* data =
            reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(avail)));
        std::string chunk;
        http::appendChunk(chunk, std::string_view(data, avail));
        evbuffer_drain(in, avail);
        writeToClient(chunk);
      } else {
        evbuffer_remove_buffer(in, out, avail);
        t.record.bytesOut += avail;
      }
      break;
    }
    case http::BodyKind::kNone:
      done = true;
      break;
  }
  if (state_ == State::kClosed) return;
  if (done) {
    finishResponseBody();
    return;
  }
  if (evbuffer_get_length(out) >= t.config->server.bufferBytes) {
    // Backpressure: a slow client never makes us hold more than the watermark.
    bufferevent_disable(t.upstream->bev.get(), EV_READ);
  }
}

void ClientSession::finishResponseBody() {
  auto& t = txn_;
  if (t.clientEncoding == BodyEncoding::kChunked) {
    std::string last;
    http::appendLastChunk(last);
    writeToClient(last);
  }
  finishCacheWrite(true);
  releaseUpstream(t.upstreamReusable && t.requestBodyDone);
  finishTransaction();
}

void ClientSession::cutShort(std::string error) {
  // The client must see an incomplete transfer, never a short body passed
  // off as complete: what is buffered (the head, part of the body) is sent,
  // then the connection is closed without the rest or a last chunk.
  auto& t = txn_;
  t.record.error = std::move(error);
  t.record.termination = describe(Termination::kOriginBodyBroken).name;

  context_.stats->upstreamError();
  finishCacheWrite(false);
  releaseUpstream(false);
  t.keepAlive = false;
  logTransaction();
  closeAfterFlush();
}

void ClientSession::onUpstreamClosed(short what) {
  auto& t = txn_;
  if (state_ == State::kRelayingResponse) {
    if (t.responseFraming.kind == http::BodyKind::kUntilClose && (what & BEV_EVENT_EOF)) {
      pumpResponseBody();
      if (state_ == State::kClosed) return;
      t.upstreamReusable = false;
      finishResponseBody();
      return;
    }
    cutShort((what & BEV_EVENT_TIMEOUT) ? "upstream body timeout" : "upstream closed mid-body");
    return;
  }
  // No final response yet.
  const bool timedOut = (what & BEV_EVENT_TIMEOUT) != 0;
  if (t.upstream && t.upstream->reused && !t.responseBytesSeen && !t.retried &&
      isIdempotent(t.request.methodKind) && t.requestFraming.kind == http::BodyKind::kNone) {
    // A pooled connection the origin had closed: try once on a fresh one.
    t.retried = true;
    t.upstream.reset();
    t.nextAddress = t.nextAddress > 0 ? t.nextAddress - 1 : 0;
    connectUpstream();
    return;
  }
  releaseUpstream(false);
  context_.stats->upstreamError();
  if (serveStaleOnError()) return;
  ErrorReply e =
      errorReply(timedOut ? Termination::kOriginTimeout : Termination::kOriginClosed,
                 timedOut ? "The origin server accepted the request but did not answer in time."
                          : "The origin server closed the connection without answering.");
  t.record.error = timedOut ? "upstream first byte timeout" : "upstream closed before response";
  reply(std::move(e));
}

void ClientSession::startTunnel() {
  auto& t = txn_;
  const auto& server = t.config->server;
  static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
  bufferevent_write(client_.get(), kEstablished.data(), kEstablished.size());
  t.record.status = 200;
  t.record.bytesOut += kEstablished.size();
  enter(State::kTunnel);
  evtimer_del(headTimer_.get());
  stopDirectWrites();  // the tunnel takes the sockets (and what is queued) from here on
  Tunnel::Options options;
  options.chunkBytes = server.bufferBytes;
  options.idleTimeout = server.tunnelIdleTimeout;
  // The client's bufferevent rate limit goes away with the bufferevent: the
  // tunnel paces both directions itself.
  options.bandwidth = limit_ ? limit_->bandwidth : 0;
  tunnel_ = std::make_unique<Tunnel>(std::move(client_), std::move(t.upstream->bev), options,
                                     [this](const Tunnel::Totals& totals) {
                                       txn_.record.bytesIn += totals.clientToUpstream;
                                       txn_.record.bytesOut += totals.upstreamToClient;
                                       txn_.record.upstreamBytes += totals.upstreamToClient;
                                       if (!totals.error.empty()) txn_.record.error = totals.error;
                                       close();
                                     });
  t.upstream.reset();
  tunnel_->start();
}

}  // namespace portcullis::proxy
