// UpstreamRequest through parent proxies: each parent in turn (a failed
// connect marks it down for [parents] retry_after and tries the next; a
// parent given by name is resolved at each connect through the worker's
// resolver, whose cache honours the record's TTL, so a moved parent is
// followed without a reload and no loop thread ever blocks on DNS), and
// a CONNECT sent on to the parent as a CONNECT (RFC 9110 §9.3.6) whose 2xx
// hands the connection to the tunnel. The request head itself is built by
// the owner (Exchange::upstreamHead, absolute form for a parent).

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/http/head_parser.h"
#include "daemon/proxy/parent_address.h"
#include "daemon/proxy/server.h"
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
  parentAddresses_.clear();
  nextParentAddress_ = 0;
  if (!parent_->hostName.empty()) {
    resolveParent();
    return;
  }
  // The loader refused our configured endpoints; this also knows the ports
  // the kernel chose for port 0 (the bound endpoints).
  const acl::SelfAddresses* self = config_->policy ? &config_->policy->selfAddresses() : nullptr;
  auto ip = parent_->address.ip();
  auto checked = usableParentAddresses(ip ? std::vector{*ip} : std::vector<acl::IpAddress>{},
                                       parent_->port, self);
  if (checked.usable.empty()) {
    enter(Phase::kConnecting);
    parentConnectFailed(false, {}, checked.refused);
    return;
  }
  connectTo(parent_->address);
}

void UpstreamRequest::resolveParent() {
  // Resolving is part of connecting: the request is active (release() and
  // the destructor cancel the lookup) and connect_timeout starts after it.
  enter(Phase::kConnecting);
  if (context_.resolver == nullptr) {
    parentConnectFailed(false, {}, "address " + parent_->hostName + ": no resolver");
    return;
  }
  auto answer = context_.resolver->resolve(
      parent_->hostName,
      [this](const net::DnsAnswer& a) {
        parentDnsTicket_ = 0;
        // The resolver calls back from its own evdns callback: nothing may
        // escape into it.
        try {
          onParentResolved(a);
        } catch (...) {
          owner_->upstreamAborted();
        }
      },
      parentDnsTicket_);
  if (answer) onParentResolved(*answer);
}

void UpstreamRequest::onParentResolved(const net::DnsAnswer& answer) {
  const std::string& name = parent_->hostName;
  if (answer.failure) {
    context_.stats->dnsFailure();
    parentConnectFailed(answer.failure == net::DnsFailure::kTimeout, {},
                        "address " + name + ": DNS: " + answer.detail);
    return;
  }
  // The same hard rules as for a parent written as an IP address, on every
  // address the name has now (it may have moved since the last request).
  const acl::SelfAddresses* self = config_->policy ? &config_->policy->selfAddresses() : nullptr;
  auto checked = usableParentAddresses(answer.addresses, parent_->port, self);
  if (checked.usable.empty()) {
    parentConnectFailed(false, {}, "address " + name + ": " + checked.refused);
    return;
  }
  parentAddresses_ = std::move(checked.usable);
  connectParentAddress();
}

void UpstreamRequest::connectParentAddress() {
  ParentHop& hop = parents_[nextParent_ - 1];
  hop.address = net::SocketAddress::from(parentAddresses_[nextParentAddress_++], hop.port);
  connectTo(hop.address);
}

void UpstreamRequest::cancelParentDns() {
  if (parentDnsTicket_ == 0) return;
  if (context_.resolver != nullptr) context_.resolver->cancel(parentDnsTicket_);
  parentDnsTicket_ = 0;
}

bool UpstreamRequest::prepareParentTls() {
  tlsSetupError_.clear();
  tlsHandshaking_ = false;
  if (parent_->tlsContext) pendingSsl_ = parent_->tlsContext->newSsl(parent_->tlsName);
  if (!pendingSsl_) {
    tlsSetupError_ = parent_->tlsContext ? "cannot set up TLS to '" + parent_->tlsName + "'"
                                         : std::string("its tls_ca did not load");
    return false;
  }
  return true;
}

std::string UpstreamRequest::parentPoolKey(const ParentHop& hop) {
  // The address alone is not enough: two parents (or one before and after
  // a reload) on the same address may verify another name or trust other
  // CAs, and a connection verified under one must never serve the other.
  // Each [[parent]] has its own context (parent_tls.h), and a new CA gives
  // a new one, so its id stands for the parent and its tls_ca.
  return "tls:" + hop.address.toString() + " " + hop.tlsName + " #" +
         std::to_string(hop.tlsContext ? hop.tlsContext->id() : 0);
}

void UpstreamRequest::startParentTls() {
  // A filter over the connected socket: the handshake runs on the loop and
  // BEV_EVENT_CONNECTED comes again once the parent is verified (an error
  // goes to onConnectFailed, the parent counting as down).
  setNoDelay(conn_->bev.get());
  bufferevent_set_timeouts(conn_->bev.get(), nullptr, nullptr);
  conn_->bev = net::startClientTls(context_.base, std::move(conn_->bev), std::move(pendingSsl_));
  bufferevent* tls = conn_->bev.get();
  if (tls == nullptr) {
    tlsSetupError_ = "cannot start TLS";
    onConnectFailed(BEV_EVENT_ERROR);
    return;
  }
  tlsHandshaking_ = true;
  // A parent that closes without close_notify ends the connection like a
  // TCP close (EOF): an idle pooled one is dropped, a response framed by
  // the close ends; a truncated one is still caught by its framing.
  bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
  bufferevent_setcb(tls, &UpstreamRequest::onRead, &UpstreamRequest::onWrite,
                    &UpstreamRequest::onEvent, this);
  const auto& server = config_->server;
  bufferevent_setwatermark(tls, EV_READ, 0, server.bufferBytes);
  net::setLargeIo(tls, server.bufferBytes);
  bufferevent_setwatermark(tls, EV_WRITE, server.bufferBytes / 2, 0);
  timeval ct = toTimeval(server.connectTimeout);
  bufferevent_set_timeouts(tls, &ct, &ct);
  bufferevent_enable(tls, EV_READ | EV_WRITE);
}

void UpstreamRequest::rememberParentSession() {
  // Once per connection, at its first answer (TLS 1.3 tickets come after
  // the handshake): the next new connection to this parent resumes it.
  if (parent_ == nullptr || !parent_->tls || !parent_->tlsContext || conn_->reused) return;
  parent_->tlsContext->rememberSession(parent_->tlsName,
                                       bufferevent_openssl_get_ssl(conn_->bev.get()));
}

std::string UpstreamRequest::parentTlsError() {
  if (parent_ == nullptr || !parent_->tls) return {};
  if (!tlsSetupError_.empty()) return std::exchange(tlsSetupError_, {});
  if (!tlsHandshaking_ || !conn_ || !conn_->bev) return {};  // the TCP connect failed
  tlsHandshaking_ = false;
  bufferevent* bev = conn_->bev.get();
  // Drain libevent's queue: the first entry is the handshake's reason.
  unsigned long first = 0;
  while (unsigned long e = bufferevent_get_openssl_error(bev)) {
    if (first == 0) first = e;
  }
  return net::describeHandshakeFailure(bufferevent_openssl_get_ssl(bev), first);
}

void UpstreamRequest::parentConnectFailed(bool timedOut, std::string tlsError,
                                          std::string addressError) {
  if (context_.hooks != nullptr && context_.hooks->parentEvent) {
    if (!tlsError.empty()) {
      context_.hooks->parentEvent("parent_tls_failed", parent_->name + ": " + tlsError);
    } else if (!addressError.empty()) {
      context_.hooks->parentEvent("parent_address_failed", parent_->name + ": " + addressError);
    }
  }
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
  const std::string why = !addressError.empty() ? addressError
                          : !tlsError.empty()   ? "TLS: " + tlsError
                          : timedOut            ? std::string("timed out")
                                                : std::string("refused it");
  const std::string logWhy = !addressError.empty() ? " " + addressError
                             : !tlsError.empty()   ? " TLS failed: " + tlsError
                             : timedOut            ? std::string(" connect timeout")
                                                   : std::string(" connect refused");
  owner_->parentsExhausted(
      errorReply(timedOut ? Termination::kConnectTimeout : Termination::kConnectRefused,
                 "The proxy could not reach " + target_->authority() +
                     ": no parent proxy accepted the connection (the last tried, \"" + failed +
                     "\", " + why + ")."),
      "parent " + failed + logWhy);
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
  http::ResponseHead head;
  const auto outcome = parseInputHead(in, head);
  if (outcome.status == http::ParseStatus::kNeedMore) return;
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
  rememberParentSession();
  bufferevent_set_timeouts(conn_->bev.get(), nullptr, nullptr);
  owner_->upstreamTunnel();
}

}  // namespace portcullis::proxy
