#include "daemon/auth/password_hash.h"

#include <crypt.h>

#include <cstring>
#include <memory>

namespace portcullis::auth {

namespace {

/// crypt_data is 32 KiB: on the heap, wiped after use (it held the password).
struct CryptScratch {
  crypt_data data{};
  ~CryptScratch() { explicit_bzero(&data, sizeof data); }
};

}  // namespace

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool verifyPassword(std::string_view password, const std::string& hash) {
  if (hashKindOf(hash) == HashKind::kUnsupported) return false;
  // crypt_r needs a NUL-terminated phrase; a password with a NUL in it can
  // never match (htpasswd cannot write one either).
  if (password.find('\0') != std::string_view::npos) return false;
  std::string phrase(password);
  auto scratch = std::make_unique<CryptScratch>();
  const char* out = crypt_r(phrase.c_str(), hash.c_str(), &scratch->data);
  explicit_bzero(phrase.data(), phrase.size());
  // libxcrypt returns "*0"/"*1" (never a valid hash) on failure.
  if (out == nullptr || out[0] == '*') return false;
  return constantTimeEqual(out, hash);
}

Result<std::string> makeHash(std::string_view password, HashKind kind) {
  if (kind == HashKind::kUnsupported) return makeError("unsupported hash kind");
  if (password.find('\0') != std::string_view::npos) return makeError("password contains NUL");
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  const char* prefix = kind == HashKind::kBcrypt ? "$2b$" : "$y$";
  if (crypt_gensalt_rn(prefix, 0, nullptr, 0, salt, sizeof salt) == nullptr) {
    return makeError(std::string("crypt_gensalt: ") + std::strerror(errno));
  }
  std::string phrase(password);
  auto scratch = std::make_unique<CryptScratch>();
  const char* out = crypt_r(phrase.c_str(), salt, &scratch->data);
  explicit_bzero(phrase.data(), phrase.size());
  if (out == nullptr || out[0] == '*') return makeError("crypt_r failed");
  return std::string(out);
}

}  // namespace portcullis::auth
