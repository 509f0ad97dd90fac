// Exchange endings: refusals, error replies (one Termination kind each),
// the end of an exchange, the access-log record, and what the client
// connection reports while an exchange runs.

#include <event2/buffer.h>

#include "daemon/admin/stats.h"
#include "daemon/proxy/background_fill.h"
#include "daemon/proxy/decision_record.h"
#include "daemon/proxy/exchange.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"
#include "daemon/proxy/verify_mailbox.h"

namespace portcullis::proxy {

using detail::requestTimeout;

void Exchange::writeToClient(std::string_view bytes) {
  bufferevent* client = connection_.clientEvents();
  if (client == nullptr || bytes.empty()) return;
  bufferevent_write(client, bytes.data(), bytes.size());
  record_.bytesOut += bytes.size();
}

void Exchange::denied(const acl::Decision& decision) {
  const std::string& rule = decision.rule;
  context_.stats->aclDenied(rule);
  connection_.noteRefusal();
  record_.decision = log::AccessDecision::kDeny;
  recordDecision(record_, decision);
  const bool prohibitedAddress = rule == "hard:special-address" || rule == "hard:self";
  // The ACL's reason names rules' file:line (even a builtin's, e.g. the allow
  // rule hard:special-address overrode): for `explain`, not for a pupil.
  ErrorReply e = errorReply(
      prohibitedAddress ? Termination::kDestinationProhibited : Termination::kDeniedByRule,
      "The proxy's access rules do not allow this request.");
  e.rule = rule;
  reply(std::move(e), true);
}

void Exchange::reply(ErrorReply error, bool closeAfter) {
  if (!active_) {
    active_ = true;
    started_ = context_.clock->steadyNow();
    record_.start = context_.clock->systemNow();
    record_.client = connection_.clientText();
    record_.balancer = connection_.balancerText();
    if (connection_.transparent() != nullptr) record_.mode = "transparent";
  }
  if (closeAfter) keepAlive_ = false;
  record_.status = error.status;
  record_.termination = describe(error.termination).name;
  if (record_.error.empty() && !error.detail.empty()) record_.error = error.detail;
  if (silentReplies()) {
    // Transparent TLS: the client speaks TLS to what it thinks is the
    // origin; an HTTP answer would be garbage to it. The connection closes.
    record_.status = 0;
    finish();
    return;
  }
  bool headOnly = request_.methodKind == http::Method::kHead;
  std::string bytes = renderErrorResponse(error, config_.get(), !keepAlive_, headOnly);
  writeToClient(bytes);
  finish();
}

void Exchange::finish() {
  leaveCache(InFlightFetch::Phase::kUncacheable);
  log();
  if (dnsTicket_ != 0) context_.resolver->cancel(dnsTicket_);
  dnsTicket_ = 0;
  if (verifyTicket_ != 0 && context_.mailbox != nullptr) context_.mailbox->cancel(verifyTicket_);
  verifyTicket_ = 0;
  upstream_->release(false);
  // Answered before its body was read (a denial, a 429, a hit, a 504 for
  // only-if-cached...): the body must never be parsed as the next request
  // (CL.0 desync). Drop it if it is all here, else close (RFC 9112 §9.3).
  if (!body_.done && !discardRequestBody()) keepAlive_ = false;
  if (phase_ != Phase::kDone) enter(Phase::kDone);
  // An idle kept-alive connection holds nothing of the last request.
  request_ = http::RequestHead{};
  target_ = http::Target{};
  addresses_.clear();
  record_ = log::AccessRecord{};
  config_.reset();
  connection_.exchangeFinished(keepAlive_);
}

bool Exchange::discardRequestBody() {
  bufferevent* client = connection_.clientEvents();
  if (body_.framing.kind != http::BodyKind::kContentLength || client == nullptr) return false;
  evbuffer* in = bufferevent_get_input(client);
  if (evbuffer_get_length(in) < body_.left) return false;
  evbuffer_drain(in, static_cast<size_t>(body_.left));
  body_.left = 0;
  body_.done = true;
  return true;
}

void Exchange::log() {
  if (!active_) return;
  active_ = false;
  if (record_.termination.empty()) record_.termination = describe(Termination::kCompleted).name;
  auto elapsed = context_.clock->steadyNow() - started_;
  record_.durationMs = std::chrono::duration<double, std::milli>(elapsed).count();
  context_.stats->recordRequest(record_);
  const auto& hooks = *context_.hooks;
  if (hooks.access) hooks.access(record_);
}

void Exchange::leaveCache(InFlightFetch::Phase outcome) {
  cache_->end(outcome);
  waiter_.leave();
  if (sliced_) sliced_->leave();
}

void Exchange::abandon() {
  if (active_) log();
  handOverFill();
  leaveCache(InFlightFetch::Phase::kFailed);
  if (dnsTicket_ != 0) context_.resolver->cancel(dnsTicket_);
  dnsTicket_ = 0;
  if (verifyTicket_ != 0 && context_.mailbox != nullptr) context_.mailbox->cancel(verifyTicket_);
  verifyTicket_ = 0;
  upstream_->release(false);
  if (sni_) sni_->stop();
  if (phase_ != Phase::kIdle && phase_ != Phase::kDone) enter(Phase::kDone);
}

void Exchange::handOverFill() {
  if (phase_ != Phase::kFetching || context_.fills == nullptr) return;
  auto plan = context_.fills->planFor(*upstream_, cache_->phase() == CacheStage::Phase::kStoring,
                                      cache_->sliceLeft());
  if (!plan) return;
  FillHandover parts{config_,
                     request_,
                     target_,
                     body_,
                     addresses_,
                     record_,
                     std::move(upstream_),
                     std::make_unique<StageFillStore>(std::move(cache_))};
  context_.fills->adopt(parts, *plan);
  upstream_ =
      std::make_unique<UpstreamRequest>(context_, static_cast<UpstreamRequest::Owner&>(*this));
  cache_ = std::make_unique<CacheStage>(context_, static_cast<CacheStage::Owner&>(*this));
}

void Exchange::clientGone(bool timedOut) {
  if (!active_) return;
  record_.error = timedOut ? "client timeout" : "client closed the connection";
  record_.termination =
      describe(timedOut ? Termination::kClientTimeout : Termination::kClientClosed).name;
}

bool Exchange::onClientReadable() {
  if (phase_ == Phase::kTlsCheck) return sni_->onClientReadable();
  if (phase_ != Phase::kFetching || upstream_->phase() != UpstreamRequest::Phase::kSendingBody) {
    return false;
  }
  upstream_->onClientReadable();
  return true;
}

void Exchange::onClientDrained() {
  if (phase_ == Phase::kTlsCheck) {
    sni_->onClientDrained();
  } else if (phase_ == Phase::kWaiting) {
    waiter_.proceed();
  } else if (phase_ == Phase::kSliced) {
    if (sliced_) sliced_->proceed();
  } else if (phase_ == Phase::kFetching) {
    upstream_->resumeReading();  // the client drained: read the origin again
  }
}

bool Exchange::onClientBodyTimeout() {
  if (phase_ != Phase::kFetching || upstream_->phase() != UpstreamRequest::Phase::kSendingBody) {
    return false;
  }
  upstream_->release(false);
  reply(requestTimeout("The request body stopped arriving.", "client request body timeout"));
  return true;
}

void Exchange::tunnelClosed(const Tunnel::Totals& totals) {
  record_.bytesIn += totals.clientToUpstream;
  record_.bytesOut += totals.upstreamToClient;
  record_.upstreamBytes += totals.upstreamToClient;
  if (!totals.error.empty()) record_.error = totals.error;
}

}  // namespace portcullis::proxy
