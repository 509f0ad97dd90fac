// The Exchange's side of the CONNECT SNI check (sni_check.h): which choices
// apply to this client, the policy asked about the SNI name, and the two
// endings (the tunnel opens, or the connection closes with a logged rule).

#include <algorithm>

#include "acl/policy_impl.h"
#include "daemon/admin/stats.h"
#include "daemon/config/sni_loader.h"
#include "daemon/proxy/exchange.h"

namespace portcullis::proxy {

void Exchange::openTunnel(std::unique_ptr<UpstreamConnection> upstream) {
  const auto& sources = config_->policy->impl().sources;
  const acl::IpAddress& client = connection_.clientIp();
  config::SniRuleConfig choices = config::sniRuleFor(config_->sni, [&](size_t i) {
    return i < sources.size() && sources[i].cidrs.contains(client);
  });
  // A transparent TLS connection was judged on this very ClientHello already.
  if (!config_->server.sniCheck || !choices.check || connection_.transparent() != nullptr) {
    enter(Phase::kTunnel);
    connection_.startTunnel(std::move(upstream));
    return;
  }
  enter(Phase::kTlsCheck);
  SniFacts facts;
  facts.connectHost = target_.host;
  facts.port = target_.port;
  facts.choices = std::move(choices);
  SniCheck::Limits limits;
  // Never longer than the tunnel may stay idle: a silent client would be
  // closed by then anyway.
  limits.timeout = std::min(config_->server.sniTimeout, config_->server.tunnelIdleTimeout);
  limits.maxBytes = config_->server.sniMaxBytes;
  limits.bufferBytes = config_->server.bufferBytes;
  if (!sni_) sni_ = std::make_unique<SniCheck>(context_, static_cast<SniCheck::Owner&>(*this));
  sni_->start(connection_.clientEvents(), std::move(upstream), std::move(facts), limits);
}

acl::Decision Exchange::admitSniName(const std::string& host,
                                     const std::vector<acl::IpAddress>& addresses) const {
  // The same question as a CONNECT to `host` on the same port from this
  // client: the hard rules (special ranges, the proxy itself) included.
  acl::RequestFacts facts = requestFacts();
  facts.host = host;
  facts.addresses = addresses;
  return config_->policy->evaluate(facts);
}

void Exchange::sniRead(const tls::ClientHello& hello) {
  record_.sni = hello.sni;
  record_.alpn = hello.alpnText();
}

void Exchange::sniPassed(std::unique_ptr<UpstreamConnection> upstream) {
  enter(Phase::kTunnel);
  connection_.startTunnel(std::move(upstream));
}

void Exchange::sniRefused(const SniVerdict& verdict) {
  // The 200 went out already: the only answer left is to close. The log
  // line says which rule and why.
  const bool timedOut = verdict.rule == kTimeoutRule;
  record_.decision = log::AccessDecision::kDeny;
  record_.rule = verdict.rule;
  record_.ruleWhere.clear();
  record_.error = verdict.detail;
  record_.termination =
      describe(timedOut ? Termination::kClientTimeout : Termination::kDeniedByRule).name;
  if (!timedOut) {
    context_.stats->aclDenied(verdict.rule);
    connection_.noteRefusal();
  }
  connection_.closeNow();
}

}  // namespace portcullis::proxy
