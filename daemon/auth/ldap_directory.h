#pragma once
// The LDAP / Active Directory backend of proxy authentication ([auth.ldap]):
// a password is checked by binding to the directory as the user (RFC 4513
// §5.1.3 simple bind), either at a DN made from a template or at the DN a
// search finds (the Active Directory way: sAMAccountName); the user's
// groups are then read with a second search. Blocking libldap calls with
// network and operation timeouts: run only on VerifierPool threads, never on
// an event loop. One connection per check, closed after it. lookup() runs
// the same searches without the user's password, for `explain --user`.

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/auth/verifier_pool.h"

namespace portcullis::auth {

struct LdapSettings {
  std::string uri;           ///< "ldap://host:port" or "ldaps://..." (several, space-separated)
  bool startTls = false;     ///< StartTLS (RFC 4513 §3) on an ldap:// connection
  std::string caFile;        ///< PEM CA bundle for ldaps:// / StartTLS; "" = system default
  std::string userDn;        ///< direct bind: "uid={user},ou=people,dc=example"
  std::string searchBase;    ///< search then bind: where users are
  std::string searchFilter;  ///< "(uid={user})", "(sAMAccountName={user})"
  std::string bindDn;        ///< service account for the search; "" = anonymous
  std::string bindPassword;  ///< read from bind_password_file
  std::string groupBase;     ///< "" = no group lookup
  std::string groupFilter;   ///< "(member={dn})" or "(memberUid={user})"
  std::string groupAttribute = "cn";
  std::chrono::milliseconds timeout{5000};  ///< connect and each operation
};

/// What one check found: the groups only on kMatch; `error` says why on
/// kUnavailable (and on a refused login, for the log; never the password).
struct LdapAnswer {
  VerifyResult result = VerifyResult::kMismatch;
  std::vector<std::string> groups;
  std::string error;
  std::string dn;  ///< the user's entry, when known (lookup's kMatch)
};

class LdapDirectory {
 public:
  explicit LdapDirectory(LdapSettings settings);

  /// Binds as `user` with `password` and reads the groups. Blocking (at
  /// most a few timeouts long); pool threads only. An empty password is
  /// refused without asking the server: to LDAP it is an unauthenticated
  /// bind, which succeeds (RFC 4513 §5.1.2).
  /// A search that finds no entry (or several) still costs the bind a wrong
  /// password costs: one simple bind with `password` at a DN that cannot
  /// exist, its answer discarded, so that the time and the directory's
  /// traffic of a login do not tell "no such user" from "wrong password".
  LdapAnswer check(std::string_view user, std::string_view password) const;

  /// What a login of `user` would find, without its password (`explain
  /// --user`): binds as bind_dn, or stays anonymous when none is set, then
  /// runs the login's own user search (search_base) and group search. kMatch
  /// with `dn` and `groups`; kMismatch when the search finds no entry or more
  /// than one (`error` says which); kUnavailable when the directory cannot
  /// answer. Blocking, like check().
  LdapAnswer lookup(std::string_view user) const;

  /// Text that changes when the settings that decide a login change: part
  /// of the credential cache's key, so a reload with another directory
  /// never reuses a login verified against the old one.
  const std::string& identity() const { return identity_; }
  const LdapSettings& settings() const { return settings_; }

  /// Records whether the server answered; true when that differs from the
  /// last check (the caller logs the change once, not every login).
  bool noteReachable(bool reachable) const;

 private:
  LdapSettings settings_;
  std::string identity_;
  mutable std::atomic<bool> reachable_{true};
};

}  // namespace portcullis::auth
