#include "daemon/proxy/proxy_auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "daemon/net/tls_handles.h"

namespace portcullis::proxy {

namespace {

constexpr size_t kMaxCached = 65536;
constexpr size_t kMaxTracked = 65536;

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/// Standard base64 with optional padding; nullopt on any other byte.
std::optional<std::string> decodeBase64(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = base64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

BasicCredentials::~BasicCredentials() {
  explicit_bzero(password.data(), password.size());
}

std::optional<BasicCredentials> parseBasicCredentials(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.size() < 6 || strncasecmp(v.data(), "basic ", 6) != 0) return std::nullopt;
  v.remove_prefix(6);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty() || v.size() > 1024) return std::nullopt;
  auto decoded = decodeBase64(v);
  if (!decoded) return std::nullopt;
  // RFC 7617 §2: the user-id cannot contain a colon; the password may.
  const size_t colon = decoded->find(':');
  std::optional<BasicCredentials> out;
  if (colon != std::string::npos && colon > 0) {
    out.emplace();
    out->user = decoded->substr(0, colon);
    out->password = decoded->substr(colon + 1);
  }
  explicit_bzero(decoded->data(), decoded->size());
  return out;
}

CredentialCache::CredentialCache() {
  RAND_bytes(salt_.data(), static_cast<int>(salt_.size()));
}

CredentialCache::Key CredentialCache::key(const BasicCredentials& c,
                                          std::string_view storedHash) const {
  Key out{};
  UniqueHandle<EVP_MD_CTX, EVP_MD_CTX_free> md(EVP_MD_CTX_new());
  const unsigned char zero = 0;
  unsigned int n = 0;
  // Lengths are implied by the NUL separators: none of the three may hold one.
  if (md && EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) == 1) {
    EVP_DigestUpdate(md.get(), salt_.data(), salt_.size());
    EVP_DigestUpdate(md.get(), c.user.data(), c.user.size());
    EVP_DigestUpdate(md.get(), &zero, 1);
    EVP_DigestUpdate(md.get(), c.password.data(), c.password.size());
    EVP_DigestUpdate(md.get(), &zero, 1);
    EVP_DigestUpdate(md.get(), storedHash.data(), storedHash.size());
    EVP_DigestFinal_ex(md.get(), out.data(), &n);
  }
  return out;
}

size_t CredentialCache::KeyHash::operator()(const Key& k) const noexcept {
  size_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);  // already uniformly distributed
  return h;
}

bool CredentialCache::fresh(const Key& key, SteadyTime now, std::vector<std::string>* groups) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  if (it->second.until > now) {
    if (groups != nullptr) *groups = it->second.groups;
    return true;
  }
  entries_.erase(it);
  return false;
}

void CredentialCache::remember(const Key& key, SteadyTime until, std::vector<std::string> groups) {
  std::lock_guard lock(mutex_);
  if (entries_.size() >= kMaxCached) {
    // Bounded: expired entries go first; if none, everything (re-verified later).
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(entries_, [&](const auto& e) { return e.second.until <= now; });
    if (entries_.size() >= kMaxCached) entries_.clear();
  }
  entries_[key] = Entry{until, std::move(groups)};
}

size_t CredentialCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

bool LoginFailures::limited(const acl::IpAddress& client, uint32_t max,
                            std::chrono::milliseconds window, SteadyTime now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client);
  if (it == entries_.end()) return false;
  if (now - it->second.windowStart >= window) {
    entries_.erase(it);
    return false;
  }
  return it->second.count >= max;
}

void LoginFailures::failed(const acl::IpAddress& client, std::chrono::milliseconds window,
                           SteadyTime now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() >= kMaxTracked && entries_.count(client) == 0) entries_.clear();
  Entry& e = entries_[client];
  if (e.count == 0 || now - e.windowStart >= window) {
    e.windowStart = now;
    e.count = 0;
  }
  ++e.count;
}

void LoginFailures::succeeded(const acl::IpAddress& client) {
  std::lock_guard lock(mutex_);
  entries_.erase(client);
}

}  // namespace portcullis::proxy
