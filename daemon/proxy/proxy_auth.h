#pragma once
// Proxy authentication's shared parts (RFC 9110 §11.7.1, RFC 7617 Basic):
// parsing Proxy-Authorization, the cache of verified logins and the
// per-client count of failed logins. The slow password check itself runs
// on auth::VerifierPool; the worker's VerifyMailbox brings the answer back
// to its loop. Credentials never leave this file and the pool: logs,
// pages and /status see the user name at most.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "acl/ip_address.h"
#include "daemon/proxy/abuse_guard.h"

namespace portcullis::proxy {

struct BasicCredentials {
  std::string user;
  std::string password;
  ~BasicCredentials();  ///< wipes the password
};

/// "Basic <base64(user:password)>" (RFC 7617 §2; the scheme is
/// case-insensitive). nullopt when it is another scheme or malformed.
std::optional<BasicCredentials> parseBasicCredentials(std::string_view headerValue);

/// Logins verified recently, keyed by SHA-256 over a per-process random
/// salt, the user, the password and the stored hash (a changed password
/// in the users file never matches an old entry; for LDAP the "hash" is the
/// directory's identity). Holds no password; an LDAP login's groups are kept
/// beside it, so a cached login needs no directory at all. Thread-safe;
/// shared by every worker.
class CredentialCache {
 public:
  CredentialCache();
  using Key = std::array<unsigned char, 32>;
  Key key(const BasicCredentials& credentials, std::string_view storedHash) const;
  /// True when `key` was verified and has not expired; its groups (LDAP)
  /// go to `groups` when that is not null.
  bool fresh(const Key& key, SteadyTime now, std::vector<std::string>* groups = nullptr);
  void remember(const Key& key, SteadyTime until, std::vector<std::string> groups = {});
  size_t size() const;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  std::array<unsigned char, 32> salt_{};
  mutable std::mutex mutex_;
  struct Entry {
    SteadyTime until;
    std::vector<std::string> groups;
  };
  std::unordered_map<Key, Entry, KeyHash> entries_;
};

/// Failed logins per client address within a window ([auth] max_failures).
/// Thread-safe.
class LoginFailures {
 public:
  /// True while the client has `max` or more failures in the current window.
  bool limited(const acl::IpAddress& client, uint32_t max, std::chrono::milliseconds window,
               SteadyTime now);
  void failed(const acl::IpAddress& client, std::chrono::milliseconds window, SteadyTime now);
  void succeeded(const acl::IpAddress& client);

 private:
  struct Entry {
    SteadyTime windowStart;
    uint32_t count = 0;
  };
  std::mutex mutex_;
  std::unordered_map<acl::IpAddress, Entry, IpHash> entries_;
};

}  // namespace portcullis::proxy
