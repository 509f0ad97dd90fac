// ClientSession as the owner of its UpstreamRequest: the head it sends, what
// becomes of the response, and the CONNECT hand-off to Tunnel.

#include <event2/buffer.h>

#include <algorithm>

#include "cache/policy/validation.h"
#include "daemon/admin/stats.h"
#include "daemon/http/framing.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/client_session.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using detail::protocolError;

std::string ClientSession::upstreamHead(BodyEncoding enc) {
  auto& t = txn_;
  const auto& pseudonym = t.config->server.viaPseudonym;
  if (cache_.fetchWholeForRange()) {
    // The whole object goes into the cache; the client's range is cut from it.
    http::RequestHead whole = t.request;
    whole.headers.remove("Range");
    whole.headers.remove("If-Range");
    return buildUpstreamRequest(whole, t.target, enc, t.body.framing.length, pseudonym);
  }
  if (const auto* stored = cache_.revalidating()) {
    // Our own validators go upstream; the client's conditionals stay ours to answer.
    http::RequestHead conditional = t.request;
    cache::policy::addRevalidationHeaders(conditional.headers, stored->response);
    return buildUpstreamRequest(conditional, t.target, enc, t.body.framing.length, pseudonym);
  }
  return buildUpstreamRequest(t.request, t.target, enc, t.body.framing.length, pseudonym);
}

bool ClientSession::onResponseHead() {
  auto& t = txn_;
  const auto& response = upstream_.response();
  if (upstream_.clientEncoding() == BodyEncoding::kUntilClose) t.keepAlive = false;
  if (!t.body.done) t.keepAlive = false;  // the origin answered before the body ended
  http::ResponseHead clientHead;
  uint64_t clientLength = upstream_.framing().length;
  bool cut = false;
  if (cache_.fetchWholeForRange()) {
    clientHead = response;
    if (!cache_.prepareRangeCut(upstream_, clientHead, clientLength, cut)) return false;
  }
  if (cache_.onResponseHead(upstream_)) return false;
  std::string head = buildClientResponse(cut ? clientHead : response, upstream_.clientEncoding(),
                                         clientLength, !t.keepAlive, t.config->server.viaPseudonym);
  t.record.status = cut ? clientHead.status : response.status;
  writeToClient(head);
  return true;
}

void ClientSession::responseComplete() {
  cache_.finishWrite(true);
  upstream_.release(upstream_.reusable() && txn_.body.done);
  finishTransaction();
}

void ClientSession::responseBroken(std::string error) {
  // The client must see an incomplete transfer, never a short body passed
  // off as complete: what is buffered (the head, part of the body) is sent,
  // then the connection is closed without the rest or a last chunk.
  auto& t = txn_;
  t.record.error = std::move(error);
  t.record.termination = describe(Termination::kOriginBodyBroken).name;
  context_.stats->upstreamError();
  cache_.finishWrite(false);
  upstream_.release(false);
  t.keepAlive = false;
  logTransaction();
  closeAfterFlush();
}

void ClientSession::upstreamFailed(ErrorReply error, std::string logError, bool mayServeStale,
                                   bool close) {
  if (mayServeStale && cache_.serveStaleOnError(upstream_)) return;
  if (!logError.empty()) txn_.record.error = std::move(logError);
  reply(std::move(error), close || !txn_.keepAlive);
}

void ClientSession::requestBodyInvalid(std::string_view reason) {
  reply(protocolError(400, reason));
}

void ClientSession::upstreamTunnel() {
  startTunnel();
}

void ClientSession::startTunnel() {
  auto& t = txn_;
  const auto& server = t.config->server;
  auto upstream = upstream_.takeConnection();
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
  tunnel_ = std::make_unique<Tunnel>(std::move(client_), std::move(upstream->bev), options,
                                     [this](const Tunnel::Totals& totals) {
                                       txn_.record.bytesIn += totals.clientToUpstream;
                                       txn_.record.bytesOut += totals.upstreamToClient;
                                       txn_.record.upstreamBytes += totals.upstreamToClient;
                                       if (!totals.error.empty()) txn_.record.error = totals.error;
                                       close();
                                     });
  tunnel_->start();
}

}  // namespace portcullis::proxy
