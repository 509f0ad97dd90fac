#include "daemon/auth/ldap_directory.h"

#include <ldap.h>

#include <memory>

#include "daemon/auth/ldap_escape.h"
#include "daemon/auth/users_file.h"

namespace portcullis::auth {

namespace {

struct LdapUnbind {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
using LdapHandle = std::unique_ptr<LDAP, LdapUnbind>;
struct MessageFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
using LdapMessagePtr = std::unique_ptr<LDAPMessage, MessageFree>;
struct MemFree {
  void operator()(char* p) const { ldap_memfree(p); }
};
struct ValuesFree {
  void operator()(berval** v) const { ldap_value_free_len(v); }
};

timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string describe(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  char* diag = nullptr;
  if (ld != nullptr &&
      ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) == LDAP_OPT_SUCCESS &&
      diag != nullptr) {
    if (*diag != '\0') out += std::string(" (") + diag + ")";
    ldap_memfree(diag);
  }
  return out;
}

/// Result codes that mean "these credentials are not good", as opposed to
/// "the directory could not answer" (RFC 4511 Appendix A).
bool refusesCredentials(int rc) {
  return rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INVALID_DN_SYNTAX ||
         rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_INAPPROPRIATE_AUTH ||
         rc == LDAP_UNWILLING_TO_PERFORM || rc == LDAP_CONSTRAINT_VIOLATION;
}

LdapAnswer unavailable(std::string what) {
  LdapAnswer a;
  a.result = VerifyResult::kUnavailable;
  a.error = std::move(what);
  return a;
}

LdapAnswer refused(std::string why) {
  LdapAnswer a;
  a.result = VerifyResult::kMismatch;
  a.error = std::move(why);
  return a;
}

/// A handle with the protocol, the timeouts and TLS set (no I/O yet, except
/// StartTLS); null with `error` set when that fails.
LdapHandle connect(const LdapSettings& s, std::string& error) {
  LDAP* raw = nullptr;
  int rc = ldap_initialize(&raw, s.uri.c_str());
  LdapHandle ld(raw);
  if (rc != LDAP_SUCCESS || !ld) {
    error = "ldap_initialize: " + std::string(ldap_err2string(rc));
    return nullptr;
  }
  const int version = LDAP_VERSION3;
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  // Connect and every synchronous operation: a dead or stalled server costs a
  // pool thread at most this long per step, never forever.
  const timeval tv = toTimeval(s.timeout);
  ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &tv);
  ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &tv);
  if (s.startTls || s.uri.find("ldaps://") != std::string::npos) {
    const int demand = LDAP_OPT_X_TLS_DEMAND;  // the certificate is always verified
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (!s.caFile.empty()) {
      ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, s.caFile.c_str());
    }
    const int isServer = 0;  // a new client TLS context with the options above
    rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &isServer);
    if (rc != LDAP_OPT_SUCCESS) {
      error = "TLS set-up (ca_file?): " + describe(ld.get(), rc);
      return nullptr;
    }
  }
  if (s.startTls) {
    rc = ldap_start_tls_s(ld.get(), nullptr, nullptr);
    if (rc != LDAP_SUCCESS) {
      error = "StartTLS: " + describe(ld.get(), rc);
      return nullptr;
    }
  }
  return ld;
}

int simpleBind(LDAP* ld, const std::string& dn, std::string_view password) {
  berval cred{};
  cred.bv_val = const_cast<char*>(password.data());
  cred.bv_len = password.size();
  return ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

LdapAnswer matched() {
  LdapAnswer a;
  a.result = VerifyResult::kMatch;
  return a;
}

/// Binds as bind_dn; without one the connection stays anonymous (no bind
/// at all: RFC 4511 §4.2.1 lets operations run before any bind).
LdapAnswer bindService(LDAP* ld, const LdapSettings& s) {
  if (s.bindDn.empty()) return matched();
  const int rc = simpleBind(ld, s.bindDn, s.bindPassword);
  if (rc != LDAP_SUCCESS) return unavailable("service bind as bind_dn: " + describe(ld, rc));
  return matched();
}

/// Search-then-bind: the DN of the one entry the filter finds (bound as the
/// service account already).
LdapAnswer findUserDn(LDAP* ld, const LdapSettings& s, std::string_view user, std::string& dn) {
  const std::string filter =
      expandPlaceholders(s.searchFilter, {{"user", escapeFilterValue(user)}});
  char noAttributes[] = LDAP_NO_ATTRS;
  char* attrs[] = {noAttributes, nullptr};
  timeval tv = toTimeval(s.timeout);
  LDAPMessage* raw = nullptr;
  // Size limit 2: one entry is the user, two mean the filter is ambiguous.
  const int rc = ldap_search_ext_s(ld, s.searchBase.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(),
                                   attrs, 0, nullptr, nullptr, &tv, 2, &raw);
  LdapMessagePtr res(raw);
  if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
    return unavailable("user search: " + describe(ld, rc));
  }
  const int entries = res ? ldap_count_entries(ld, res.get()) : 0;
  if (entries == 0) return refused("no such user in the directory");
  if (entries > 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
    return refused("search_filter finds more than one entry for this user");
  }
  std::unique_ptr<char, MemFree> found(ldap_get_dn(ld, ldap_first_entry(ld, res.get())));
  if (!found) return unavailable("user search: entry without a DN");
  dn = found.get();
  return matched();
}

/// The bind a wrong password costs, for a user the search did not find: at
/// a DN under search_base that names no entry (a made-up RDN), so the
/// server refuses it like a wrong password. A server error answers as the
/// real bind's would (unavailable); any other answer is `notFound`.
LdapAnswer decoyBind(LDAP* ld, const LdapSettings& s, std::string_view password,
                     LdapAnswer notFound) {
  const std::string dn = "cn=portcullis-no-such-user-5f0c1d2e," + s.searchBase;
  const int rc = simpleBind(ld, dn, password);
  if (rc != LDAP_SUCCESS && !refusesCredentials(rc)) {
    return unavailable("bind: " + describe(ld, rc));
  }
  return notFound;
}

/// The group names (valid names only) of the user, searched with its bind.
LdapAnswer readGroups(LDAP* ld, const LdapSettings& s, std::string_view user,
                      const std::string& dn) {
  LdapAnswer out;
  out.result = VerifyResult::kMatch;
  if (s.groupBase.empty()) return out;
  const std::string filter = expandPlaceholders(
      s.groupFilter, {{"user", escapeFilterValue(user)}, {"dn", escapeFilterValue(dn)}});
  std::string attribute = s.groupAttribute;
  char* attrs[] = {attribute.data(), nullptr};
  timeval tv = toTimeval(s.timeout);
  LDAPMessage* raw = nullptr;
  const int rc = ldap_search_ext_s(ld, s.groupBase.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(),
                                   attrs, 0, nullptr, nullptr, &tv, 0, &raw);
  LdapMessagePtr res(raw);
  // Incomplete groups could miss a deny rule's group: no login rather than
  // a login with fewer groups.
  if (rc != LDAP_SUCCESS) return unavailable("group search: " + describe(ld, rc));
  for (LDAPMessage* e = ldap_first_entry(ld, res.get()); e != nullptr; e = ldap_next_entry(ld, e)) {
    std::unique_ptr<berval*, ValuesFree> values(ldap_get_values_len(ld, e, attribute.c_str()));
    for (berval** v = values.get(); v != nullptr && *v != nullptr; ++v) {
      std::string name((*v)->bv_val, (*v)->bv_len);
      // Only names rules can spell ("Domain Users" cannot be group:NAME).
      if (validName(name)) out.groups.push_back(std::move(name));
    }
  }
  return out;
}

}  // namespace

LdapDirectory::LdapDirectory(LdapSettings settings) : settings_(std::move(settings)) {
  // libldap's global options are set up on first use; do it here, on the
  // thread that loads the config, not racing on the pool's threads.
  int version = 0;
  ldap_get_option(nullptr, LDAP_OPT_PROTOCOL_VERSION, &version);
  identity_ = "ldap\n" + settings_.uri + "\n" + settings_.userDn + "\n" + settings_.searchBase +
              "\n" + settings_.searchFilter + "\n" + settings_.groupBase + "\n" +
              settings_.groupFilter + "\n" + settings_.groupAttribute;
}

bool LdapDirectory::noteReachable(bool reachable) const {
  return reachable_.exchange(reachable) != reachable;
}

LdapAnswer LdapDirectory::check(std::string_view user, std::string_view password) const {
  // RFC 4513 §5.1.2: a simple bind with a DN and an empty password is an
  // "unauthenticated bind" that many servers accept: never send one.
  if (password.empty()) return refused("empty password");
  if (password.find('\0') != std::string_view::npos) return refused("password contains NUL");
  if (!validName(user)) return refused("not a valid user name");
  std::string error;
  LdapHandle ld = connect(settings_, error);
  if (!ld) return unavailable(error);
  std::string dn;
  if (!settings_.userDn.empty()) {
    dn = expandPlaceholders(settings_.userDn, {{"user", escapeDnValue(user)}});
  } else {
    LdapAnswer service = bindService(ld.get(), settings_);
    if (service.result != VerifyResult::kMatch) return service;
    LdapAnswer found = findUserDn(ld.get(), settings_, user, dn);
    if (found.result == VerifyResult::kUnavailable) return found;
    // No entry (or several): the bind round trip anyway, so this answer
    // comes as late as a wrong password's and the directory sees the same
    // operations (a client could otherwise probe which names exist).
    if (found.result != VerifyResult::kMatch) {
      return decoyBind(ld.get(), settings_, password, std::move(found));
    }
  }
  const int rc = simpleBind(ld.get(), dn, password);
  if (rc != LDAP_SUCCESS) {
    if (refusesCredentials(rc)) return refused("bind: " + std::string(ldap_err2string(rc)));
    return unavailable("bind: " + describe(ld.get(), rc));
  }
  return readGroups(ld.get(), settings_, user, dn);
}

LdapAnswer LdapDirectory::lookup(std::string_view user) const {
  if (!validName(user)) return refused("not a valid user name");
  std::string error;
  LdapHandle ld = connect(settings_, error);
  if (!ld) return unavailable(error);
  LdapAnswer service = bindService(ld.get(), settings_);
  if (service.result != VerifyResult::kMatch) return service;
  std::string dn;
  if (!settings_.userDn.empty()) {
    dn = expandPlaceholders(settings_.userDn, {{"user", escapeDnValue(user)}});
  } else {
    LdapAnswer found = findUserDn(ld.get(), settings_, user, dn);
    if (found.result != VerifyResult::kMatch) return found;
  }
  LdapAnswer out = readGroups(ld.get(), settings_, user, dn);
  out.dn = dn;
  return out;
}

}  // namespace portcullis::auth
