// Exchange: identity. Proxy-Authorization (RFC 9110 §11.7.2, Basic per
// RFC 7617) is checked before the rules, so that rules may name users. A
// verified login is remembered (CredentialCache); otherwise the check runs
// on the verifier pool and the exchange waits in kAdmission until the
// worker's mailbox brings the answer back to this loop. With [auth.ldap] the
// pool binds to the directory instead of checking a hash, and the groups it
// reads come back with the answer. The header itself is never forwarded
// (message_writer drops it with the hop-by-hop fields).

#include <algorithm>

#include "acl/policy_impl.h"
#include "daemon/proxy/exchange.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/verify_mailbox.h"

namespace portcullis::proxy {

namespace {
constexpr std::string_view kPlaintextMessage =
    "This proxy accepts logins only over its TLS port (an https:// proxy address): this "
    "request sent a password unencrypted over the network. Set the proxy address to "
    "https://... as your school's IT explains, and change your password if the network "
    "is not trusted.";
}  // namespace

bool Exchange::credentialsAllowedHere() const {
  if (connection_.overTls()) return true;
  const auto& sources = config_->policy->impl().sources;
  for (size_t i : config_->auth.plaintextSources) {
    if (i < sources.size() && sources[i].cidrs.contains(connection_.clientIp())) return true;
  }
  return false;
}

bool Exchange::identify() {
  const auto& a = config_->auth;
  auto header = request_.headers.get("Proxy-Authorization");
  // Without [auth] a client's credentials mean nothing here: anonymous.
  if (!header || !a.enabled() || context_.verifier == nullptr) return true;
  if (!credentialsAllowedHere()) {
    ErrorReply e = errorReply(Termination::kDeniedByRule, std::string(kPlaintextMessage),
                              "credentials refused on the plain port");
    e.rule = "auth:plaintext";
    record_.rule = e.rule;
    record_.decision = log::AccessDecision::kDeny;
    connection_.noteRefusal();
    reply(std::move(e), true);
    return false;
  }
  const auto now = context_.clock->steadyNow();
  if (context_.loginFailures->limited(connection_.clientIp(), a.maxFailures, a.failureWindow,
                                      now)) {
    countTowardBlock();
    ErrorReply e =
        errorReply(Termination::kRateLimited,
                   "Too many failed logins from this computer; wait a minute and try again.",
                   "too many failed logins");
    e.rule = "auth:failures";
    record_.rule = e.rule;
    reply(std::move(e), true);
    return false;
  }
  auto credentials = parseBasicCredentials(*header);
  if (!credentials) {
    loginFailed("malformed Proxy-Authorization");
    return false;
  }
  if (a.ldap) return identifyLdap(*credentials, now);
  const auth::UserEntry* entry = a.users->find(credentials->user);
  // An unknown user is checked against a decoy hash: a wrong name takes as
  // long as a wrong password.
  const std::string& hash = entry != nullptr ? entry->hash : *context_.decoyHash;
  const auto key = context_.credentials->key(*credentials, hash);
  if (entry != nullptr && context_.credentials->fresh(key, now)) {
    setUser(credentials->user);
    return true;
  }
  if (hash.empty()) {
    loginFailed("wrong user name or password");
    return false;
  }
  std::string user = entry != nullptr ? credentials->user : std::string();
  verifyTicket_ = context_.mailbox->submit(
      *context_.verifier, hash, credentials->password,
      [this, key, user = std::move(user)](auth::VerifyResult r) { onVerified(r, key, user); });
  return false;
}

bool Exchange::identifyLdap(const BasicCredentials& credentials, SteadyTime now) {
  std::shared_ptr<const auth::LdapDirectory> directory = config_->auth.ldap;
  const auto key = context_.credentials->key(credentials, directory->identity());
  std::vector<std::string> groups;
  if (context_.credentials->fresh(key, now, &groups)) {
    setUser(credentials.user, groups);
    return true;
  }
  // Refused here, without the directory: an empty password would be an
  // unauthenticated bind (RFC 4513 §5.1.2), and a name rules cannot spell
  // never needs asking about.
  if (credentials.password.empty() || !auth::validName(credentials.user)) {
    loginFailed("wrong user name or password");
    return false;
  }
  // The pool thread writes the answer before it posts to the mailbox; the
  // loop reads it after (the mailbox's mutex orders the two).
  auto answer = std::make_shared<auth::LdapAnswer>();
  auto check = [directory, user = credentials.user, answer](const std::string& password) {
    *answer = directory->check(user, password);
    return answer->result;
  };
  verifyTicket_ = context_.mailbox->submitCheck(
      *context_.verifier, std::move(check), credentials.password,
      [this, key, user = credentials.user, answer](auth::VerifyResult r) {
        onVerified(r, key, user, answer);
      });
  return false;
}

void Exchange::ldapUnavailable(const auth::LdapAnswer& answer) {
  const auto& directory = *config_->auth.ldap;
  if (directory.noteReachable(false) && context_.hooks->cacheEvent) {
    context_.hooks->cacheEvent("ldap_unavailable", answer.error);
  }
  reply(errorReply(Termination::kAuthUnavailable,
                   "The login server cannot be reached; try again in a moment.",
                   "LDAP: " + answer.error, 503),
        true);
}

void Exchange::onVerified(auth::VerifyResult result, CredentialCache::Key key, std::string user,
                          std::shared_ptr<const auth::LdapAnswer> ldap) {
  verifyTicket_ = 0;
  if (phase_ != Phase::kAdmission || !active_) return;
  try {
    if (result == auth::VerifyResult::kBusy) {
      reply(errorReply(Termination::kRateLimited,
                       "The proxy is busy checking logins; try again in a moment.",
                       "login queue full", 503),
            true);
      return;
    }
    if (ldap && result == auth::VerifyResult::kUnavailable) {
      ldapUnavailable(*ldap);
      return;
    }
    if (ldap && config_->auth.ldap && config_->auth.ldap->noteReachable(true) &&
        context_.hooks->cacheEvent) {
      context_.hooks->cacheEvent("ldap_recovered", "");
    }
    if (result != auth::VerifyResult::kMatch || user.empty()) {
      loginFailed("wrong user name or password");
      return;
    }
    const auto now = context_.clock->steadyNow();
    context_.loginFailures->succeeded(connection_.clientIp());
    std::vector<std::string> groups = ldap ? ldap->groups : std::vector<std::string>();
    if (config_->auth.cacheTtl.count() > 0) {
      context_.credentials->remember(key, now + config_->auth.cacheTtl, groups);
    }
    setUser(user, groups);
    admit();
  } catch (...) {
    connection_.closeNow();  // never out through the mailbox's callback
  }
}

void Exchange::setUser(const std::string& user, const std::vector<std::string>& extraGroups) {
  user_ = user;
  groups_ = config_->auth.groups->groupsOf(user);
  // A directory's groups add to [groups] / groups_file ones.
  for (const auto& g : extraGroups) {
    if (std::find(groups_.begin(), groups_.end(), g) == groups_.end()) groups_.push_back(g);
  }
  record_.user = user;
}

void Exchange::loginFailed(std::string_view why) {
  context_.loginFailures->failed(connection_.clientIp(), config_->auth.failureWindow,
                                 context_.clock->steadyNow());
  countTowardBlock();
  challenge("The user name or password is wrong.", std::string(why));
}

void Exchange::countTowardBlock() {
  // A failed login counts toward [abuse] even for clients of an allowed
  // network: guessing passwords is what the block is for.
  const auto& abuse = config_->abuse;
  if (abuse.refusalsToBlock == 0) return;
  AbuseGuard::Options o;
  o.refusalsToBlock = abuse.refusalsToBlock;
  o.window = abuse.refusalWindow;
  o.blockFor = abuse.blockTime;
  if (context_.abuseGuard->noteRefusal(connection_.clientIp(), o, context_.clock->steadyNow())) {
    const auto& hooks = *context_.hooks;
    if (hooks.clientEvent) {
      hooks.clientEvent("client_blocked", connection_.clientIp().toString(), {});
    }
  }
}

void Exchange::challenge(std::string message, std::string detail) {
  // RFC 9110 §15.5.8 / §11.7.1: 407 with the scheme and realm to use.
  ErrorReply e = errorReply(Termination::kAuthRequired, std::move(message), std::move(detail));
  e.rule = "auth:login";
  e.proxyAuthenticate = "Basic realm=\"" + config_->auth.realm + "\", charset=\"UTF-8\"";
  record_.decision = log::AccessDecision::kDeny;
  record_.rule = e.rule;
  // Keep the connection when the request is complete: the client retries on it.
  reply(std::move(e), !body_.done);
}

}  // namespace portcullis::proxy
