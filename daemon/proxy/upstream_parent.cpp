// UpstreamRequest through parent proxies: each parent in turn (a failed
// connect marks it down for [parents] retry_after and tries the next), and
// a CONNECT sent on to the parent as a CONNECT (RFC 9110 §9.3.6) whose 2xx
// hands the connection to the tunnel. The request head itself is built by
// the owner (Exchange::upstreamHead, absolute form for a parent).

#include <event2/buffer.h>

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/http/head_parser.h"
#include "daemon/proxy/session_util.h"
#include "daemon/proxy/upstream_request.h"

namespace portcullis::proxy {

using detail::badUpstreamResponse;
using detail::toTimeval;

void UpstreamRequest::connectParent() {
  if (nextParent_ >= parents_.size()) {
    // Unreachable: parentConnectFailed() reports the last failure itself.
    parent_ = nullptr;
    if (active()) enter(Phase::kDone);
    owner_->parentsExhausted(
        errorReply(Termination::kConnectRefused, "No parent proxy could be reached."),
        "parents down");
    return;
  }
  parent_ = &parents_[nextParent_++];
  owner_->record().parent = parent_->name;
  connectTo(parent_->address);
}

void UpstreamRequest::parentConnectFailed(bool timedOut) {
  if (parent_->state != nullptr) {
    parent_->state->markDown(context_.clock->steadyNow(), config_->parents.retryAfter);
    parent_->state->failures.fetch_add(1, std::memory_order_relaxed);
  }
  context_.stats->upstreamError();
  const std::string failed = parent_->name;
  if (nextParent_ < parents_.size()) {
    connectParent();
    return;
  }
  parent_ = nullptr;
  owner_->record().parent.clear();
  if (active()) enter(Phase::kDone);
  owner_->parentsExhausted(
      errorReply(timedOut ? Termination::kConnectTimeout : Termination::kConnectRefused,
                 "The proxy could not reach " + target_->authority() +
                     ": no parent proxy accepted the connection (the last tried, \"" + failed +
                     "\", " + (timedOut ? "timed out" : "refused it") + ")."),
      std::string("parent ") + failed + (timedOut ? " connect timeout" : " connect refused"));
}

void UpstreamRequest::sendTunnelRequest() {
  const std::string authority = target_->authority();
  std::string head = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  // Our credentials for this parent; the client's never leave us.
  if (!parent_->authorization.empty()) {
    head += "Proxy-Authorization: " + parent_->authorization + "\r\n";
  }
  head += "\r\n";
  tunnelHandshake_ = true;
  enter(Phase::kAwaitingHead);
  bufferevent* bev = conn_->bev.get();
  timeval rt = toTimeval(config_->server.firstByteTimeout);
  timeval wt = toTimeval(config_->server.bodyTimeout);
  bufferevent_set_timeouts(bev, &rt, &wt);
  bufferevent_write(bev, head.data(), head.size());
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void UpstreamRequest::readTunnelReply() {
  evbuffer* in = bufferevent_get_input(conn_->bev.get());
  const auto& server = config_->server;
  size_t len = evbuffer_get_length(in);
  size_t view = std::min(len, server.maxHeaderBytes + 1);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(view)));
  http::ParseLimits limits;
  limits.maxRequestLine = server.maxHeaderBytes;
  limits.maxHeaderBytes = server.maxHeaderBytes;
  http::ResponseHead head;
  auto outcome = http::parseResponseHead(std::string_view(data, view), limits, head);
  if (outcome.status == http::ParseStatus::kNeedMore) {
    if (view <= server.maxHeaderBytes) return;
    outcome = http::ParseOutcome::invalid(502, view, "response head too large");
  }
  tunnelHandshake_ = false;
  const std::string name = parent_->name;
  if (outcome.status == http::ParseStatus::kInvalid || head.status < 200 || head.status > 299) {
    // A parent that refuses the tunnel (403, 407: our credentials) is not
    // down; its answer is not relayed (the client asked us, not it).
    const std::string why = outcome.status == http::ParseStatus::kInvalid
                                ? std::string(outcome.reason)
                                : "status " + std::to_string(head.status);
    context_.stats->upstreamError();
    release(false);
    fail(badUpstreamResponse("The parent proxy \"" + name + "\" refused the tunnel to " +
                                 target_->authority() + " (" + why + ").",
                             "parent " + name + " refused CONNECT: " + why),
         "parent " + name + " refused CONNECT: " + why, false, true);
    return;
  }
  evbuffer_drain(in, outcome.consumed);
  bufferevent_set_timeouts(conn_->bev.get(), nullptr, nullptr);
  owner_->upstreamTunnel();
}

}  // namespace portcullis::proxy
