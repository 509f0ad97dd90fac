#pragma once
// Password hashes through libxcrypt's crypt_r(3): checking a password
// against a users-file hash, and making a new hash for `portcullis passwd`.
// Slow by design (tens of milliseconds): never call these on an event-loop
// thread; the daemon uses VerifierPool.

#include <string>
#include <string_view>

#include "daemon/auth/users_file.h"
#include "daemon/base/result.h"

namespace portcullis::auth {

/// True when `password` hashes to `hash`. The final comparison is
/// constant-time. Any thread.
bool verifyPassword(std::string_view password, const std::string& hash);

/// A new hash of `password` with a fresh random salt (crypt_gensalt_rn's
/// default cost). `kind` must be kBcrypt or kYescrypt.
Result<std::string> makeHash(std::string_view password, HashKind kind);

/// Compares two byte strings in time that depends only on their lengths.
bool constantTimeEqual(std::string_view a, std::string_view b);

}  // namespace portcullis::auth
