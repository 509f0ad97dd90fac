#include "daemon/proxy/sni_verdict.h"

#include "daemon/http/host_port.h"

namespace portcullis::proxy {

namespace {

using Step = SniVerdict::Step;
using config::TlsChoice;

SniVerdict refuse(std::string_view rule, std::string detail) {
  return {Step::kRefuse, std::string(rule), std::move(detail), {}};
}

SniVerdict relay() {
  return {Step::kRelay, {}, {}, {}};
}

/// The ClientHello's server name against the CONNECT host.
SniVerdict judgeName(const tls::ClientHello& hello, const SniFacts& facts) {
  if (!hello.hasSni) {
    if (facts.choices.noSni == TlsChoice::kAllow) return relay();
    return refuse(kNoSniRule, "TLS ClientHello without a server name ([[sni]] no_sni = \"deny\")");
  }
  // The same host grammar as a CONNECT target, so that the two compare
  // (and the policy reads the SNI as it would read the target).
  auto host = http::parseHostPort(hello.sni, {.portRequired = false, .defaultPort = 443});
  if (!host) {
    return refuse(kSniMismatchRule, "TLS server name '" + hello.sni + "' is not a host name");
  }
  if (host->host == facts.connectHost) return relay();
  if (host->isIpLiteral) {
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted".
    return refuse(kSniMismatchRule, "TLS server name is the IP literal " + host->host);
  }
  return {Step::kCheckName, {}, {}, host->host};
}

}  // namespace

SniVerdict judgeHello(const tls::HelloOutcome& outcome, const SniFacts& facts) {
  switch (outcome.status) {
    case tls::HelloStatus::kNeedMore:
      return {};
    case tls::HelloStatus::kNotTls:
      // Only 443 is TLS by convention; other ports carry what the admin
      // opened them for (a destination set names them).
      if (facts.port != 443 || facts.choices.notTls == TlsChoice::kAllow) return relay();
      return refuse(kNotTlsRule, "not TLS on port 443: " + std::string(outcome.reason));
    case tls::HelloStatus::kMalformed:
      return refuse(kMalformedRule, "malformed TLS ClientHello: " + std::string(outcome.reason));
    case tls::HelloStatus::kClientHello:
      break;
  }
  // ECH GREASE and real ECH look alike (draft-ietf-tls-esni §6.2); "allow"
  // judges the outer SNI, which for real ECH is the provider's public name.
  if (outcome.hello.echOffered && facts.choices.ech == TlsChoice::kDeny) {
    return refuse(kEchRule,
                  "TLS ClientHello offers Encrypted Client Hello ([[sni]] ech = \"deny\")");
  }
  return judgeName(outcome.hello, facts);
}

SniVerdict judgeTimeout(size_t bytesSoFar, const SniFacts& facts) {
  // A silent client on another port may be waiting for the server to speak
  // first (SMTP-like protocols); on 443 the client always speaks first.
  if (bytesSoFar == 0 && facts.port != 443) return relay();
  return refuse(kTimeoutRule, bytesSoFar == 0 ? "no TLS ClientHello before sni_timeout"
                                              : "TLS ClientHello incomplete at sni_timeout");
}

SniVerdict sniNameVerdict(std::string_view name, bool allowedByPolicy, std::string_view denyRule,
                          bool holdsConnected) {
  if (!allowedByPolicy) {
    return refuse(kSniMismatchRule, "TLS server name " + std::string(name) +
                                        " differs from the CONNECT host and is denied (" +
                                        std::string(denyRule) + ")");
  }
  if (!holdsConnected) {
    return refuse(kSniMismatchRule, "TLS server name " + std::string(name) +
                                        " does not resolve to the connected address");
  }
  return relay();
}

}  // namespace portcullis::proxy
