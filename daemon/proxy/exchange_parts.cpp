// Exchange as the owner of its parts: the head its UpstreamRequest sends,
// what becomes of the response, the CONNECT hand-off to Tunnel, and the
// collapsed waiter's way back to its own fetch.

#include <event2/buffer.h>

#include "cache/policy/validation.h"
#include "daemon/admin/stats.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/exchange.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::protocolError;

std::string Exchange::upstreamHead(BodyEncoding enc) {
  std::string head = originHead(enc);
  // Through a parent: absolute form and our credentials for it (exchange_parent.cpp).
  if (const ParentHop* hop = upstream_->parent())
    return toParentHead(std::move(head), target_, *hop);
  return head;
}

std::string Exchange::originHead(BodyEncoding enc) {
  const auto& pseudonym = config_->server.viaPseudonym;
  if (cache_->fetchWholeForRange()) {
    // The whole object goes into the cache; the client's range is cut from it.
    http::RequestHead whole = request_;
    whole.headers.remove("Range");
    whole.headers.remove("If-Range");
    return buildUpstreamRequest(whole, target_, enc, body_.framing.length, pseudonym);
  }
  if (const auto* stored = cache_->revalidating()) {
    // Our own validators go upstream; the client's conditionals stay ours to answer.
    http::RequestHead conditional = request_;
    cache::policy::addRevalidationHeaders(conditional.headers, stored->response);
    return buildUpstreamRequest(conditional, target_, enc, body_.framing.length, pseudonym);
  }
  return buildUpstreamRequest(request_, target_, enc, body_.framing.length, pseudonym);
}

bool Exchange::onResponseHead() {
  const auto& response = upstream_->response();
  if (upstream_->clientEncoding() == BodyEncoding::kUntilClose) keepAlive_ = false;
  if (!body_.done) keepAlive_ = false;  // the origin answered before the body ended
  http::ResponseHead clientHead;
  uint64_t clientLength = upstream_->framing().length;
  bool cut = false;
  if (cache_->fetchWholeForRange()) {
    clientHead = response;
    if (!cache_->prepareRangeCut(*upstream_, clientHead, clientLength, cut)) return false;
  }
  if (cache_->onResponseHead(*upstream_)) return false;
  std::string head = buildClientResponse(cut ? clientHead : response, upstream_->clientEncoding(),
                                         clientLength, !keepAlive_, config_->server.viaPseudonym);
  record_.status = cut ? clientHead.status : response.status;
  writeToClient(head);
  return true;
}

void Exchange::responseComplete() {
  cache_->finishWrite(true);
  upstream_->release(upstream_->reusable() && body_.done);
  finish();
}

void Exchange::responseBroken(std::string error) {
  // The client must see an incomplete transfer, never a short body passed
  // off as complete: what is buffered (the head, part of the body) is sent,
  // then the connection is closed without the rest or a last chunk.
  record_.error = std::move(error);
  record_.termination = describe(Termination::kOriginBodyBroken).name;
  context_.stats->upstreamError();
  cache_->finishWrite(false);
  upstream_->release(false);
  keepAlive_ = false;
  log();
  enter(Phase::kDone);
  connection_.closeAfterFlush();
}

void Exchange::upstreamFailed(ErrorReply error, std::string logError, bool mayServeStale,
                              bool close) {
  if (mayServeStale && cache_->serveStaleOnError(*upstream_)) return;
  if (!logError.empty()) record_.error = std::move(logError);
  reply(std::move(error), close || !keepAlive_);
}

void Exchange::requestBodyInvalid(std::string_view reason) {
  reply(protocolError(400, reason));
}

void Exchange::upstreamTunnel() {
  static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
  // Transparent TLS: the client never asked us for a tunnel; the ClientHello
  // still in its input goes upstream first. Logged 200 as an established
  // CONNECT tunnel is, though nothing was sent.
  if (!silentReplies()) writeToClient(kEstablished);
  record_.status = 200;
  openTunnel(upstream_->takeConnection());
}

void Exchange::waitForFetch(std::shared_ptr<InFlightFetch> fetch) {
  // A waiter: parked until the leader's head (or failure) arrives.
  enter(Phase::kWaiting);
  bufferevent_disable(clientEvents(), EV_READ);
  waiter_.start(config_, request_, std::move(fetch));
}

void Exchange::serveSliced(std::string primaryKey,
                           std::shared_ptr<const cache::StoredEntry> descriptor) {
  enter(Phase::kSliced);
  bufferevent_disable(clientEvents(), EV_READ);
  if (!sliced_) {
    sliced_ = std::make_unique<SlicedFetch>(context_, static_cast<SlicedFetch::Owner&>(*this));
  }
  sliced_->start(config_, request_, target_, addresses_, std::move(primaryKey),
                 std::move(descriptor));
}

void Exchange::slicedFallBack() {
  // The origin does not do ranges (or the object changed before a byte went
  // out): today's path, with the client's own request.
  record_.cache = log::CacheResult::kMiss;
  startUpstream();
}

void Exchange::waiterFallBack() {
  record_.cache = log::CacheResult::kMiss;
  startUpstream();  // the addresses were resolved and checked before we waited
}

}  // namespace portcullis::proxy
