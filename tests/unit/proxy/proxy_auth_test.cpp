// Proxy authentication's parts: Basic parsing, the login cache and failure
// counts, crypt_r hashes and the verifier pool (off the calling thread).
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "daemon/auth/password_hash.h"
#include "daemon/auth/verifier_pool.h"
#include "daemon/proxy/proxy_auth.h"

using namespace portcullis;
using namespace portcullis::proxy;

TEST_CASE("Basic credentials (RFC 7617)") {
  struct Case {
    const char* header;
    bool ok;
    const char* user;
    const char* password;
  };
  const Case cases[] = {
      {"Basic YWxpY2U6c2VjcmV0", true, "alice", "secret"},
      {"basic  YWxpY2U6c2VjcmV0 ", true, "alice", "secret"},
      {"Basic YWxpY2U6YTpi", true, "alice", "a:b"},  // the password may hold ':'
      {"Basic YWxpY2U6", true, "alice", ""},
      {"Basic OnNlY3JldA==", false, "", ""},  // ":secret": no user
      {"Basic YWxpY2U=", false, "", ""},      // no colon
      {"Basic !!!", false, "", ""},
      {"Bearer abc", false, "", ""},
      {"Basic", false, "", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    auto got = parseBasicCredentials(c.header);
    REQUIRE(got.has_value() == c.ok);
    if (!c.ok) continue;
    CHECK(got->user == c.user);
    CHECK(got->password == c.password);
  }
}

TEST_CASE("the login cache is keyed by credentials and stored hash, and expires") {
  CredentialCache cache;
  BasicCredentials a{"alice", "secret"};
  BasicCredentials wrong{"alice", "Secret"};
  const auto now = std::chrono::steady_clock::now();
  const auto key = cache.key(a, "$y$hash1");
  CHECK_FALSE(cache.fresh(key, now));
  cache.remember(key, now + std::chrono::seconds(10));
  CHECK(cache.fresh(key, now));
  CHECK_FALSE(cache.fresh(cache.key(wrong, "$y$hash1"), now));
  CHECK_FALSE(cache.fresh(cache.key(a, "$y$hash2"), now));  // password changed in the file
  CHECK_FALSE(cache.fresh(key, now + std::chrono::seconds(11)));
  // Another process (another salt) derives another key.
  CredentialCache other;
  CHECK(other.key(a, "$y$hash1") != key);
}

TEST_CASE("failed logins: limited after max in the window, reset by a success or the window") {
  LoginFailures f;
  const auto ip = *acl::IpAddress::parse("10.0.0.1");
  const auto t0 = std::chrono::steady_clock::now();
  const std::chrono::milliseconds window{60000};
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(f.limited(ip, 3, window, t0));
    f.failed(ip, window, t0);
  }
  CHECK(f.limited(ip, 3, window, t0));
  CHECK_FALSE(f.limited(ip, 3, window, t0 + window));
  f.failed(ip, window, t0);
  f.succeeded(ip);
  CHECK_FALSE(f.limited(ip, 1, window, t0));
}

TEST_CASE("crypt_r hashes: yescrypt and bcrypt made here verify; others never") {
  for (auto kind : {auth::HashKind::kYescrypt, auth::HashKind::kBcrypt}) {
    auto hash = auth::makeHash("pässword", kind);
    REQUIRE(hash.ok());
    CHECK(auth::hashKindOf(*hash) == kind);
    CHECK(auth::verifyPassword("pässword", *hash));
    CHECK_FALSE(auth::verifyPassword("password", *hash));
    CHECK_FALSE(auth::verifyPassword(std::string("pässword\0x", 11), *hash));
  }
  CHECK_FALSE(auth::verifyPassword("x", "$1$abc$def"));
  CHECK(auth::constantTimeEqual("abc", "abc"));
  CHECK_FALSE(auth::constantTimeEqual("abc", "abd"));
  CHECK_FALSE(auth::constantTimeEqual("abc", "abcd"));
}

TEST_CASE("the verifier pool checks on its own threads and reports busy when full") {
  auto hash = auth::makeHash("secret", auth::HashKind::kYescrypt);
  REQUIRE(hash.ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<auth::VerifyResult, std::thread::id>> results;
  {
    auth::VerifierPool pool(2);
    for (const char* pw : {"secret", "wrong"}) {
      pool.submit({*hash, pw, [&](auth::VerifyResult r) {
                     std::lock_guard lock(mu);
                     results.emplace_back(r, std::this_thread::get_id());
                     cv.notify_all();
                   }});
    }
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return results.size() == 2; }));
  }
  int matches = 0;
  for (const auto& [r, id] : results) {
    CHECK(id != std::this_thread::get_id());
    matches += r == auth::VerifyResult::kMatch;
  }
  CHECK(matches == 1);
  auth::VerifierPool tiny(1, 0);  // no room in the queue
  auth::VerifyResult got = auth::VerifyResult::kMatch;
  tiny.submit({*hash, "secret", [&](auth::VerifyResult r) { got = r; }});
  CHECK(got == auth::VerifyResult::kBusy);
}

TEST_CASE("a backend's own check runs on a pool thread; one that throws grants nothing") {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<auth::VerifyResult> results;
  std::thread::id ran;
  {
    auth::VerifierPool pool(1);
    auto done = [&](auth::VerifyResult r) {
      std::lock_guard lock(mu);
      results.push_back(r);
      cv.notify_all();
    };
    auth::VerifierPool::Job ok{"", "pw", done, [&](const std::string& pw) {
                                 ran = std::this_thread::get_id();
                                 return pw == "pw" ? auth::VerifyResult::kMatch
                                                   : auth::VerifyResult::kMismatch;
                               }};
    pool.submit(std::move(ok));
    pool.submit({"", "pw", done, [](const std::string&) -> auth::VerifyResult {
                   throw std::runtime_error("directory exploded");
                 }});
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return results.size() == 2; }));
  }
  CHECK(ran != std::this_thread::get_id());
  CHECK(results == std::vector{auth::VerifyResult::kMatch, auth::VerifyResult::kUnavailable});
}

TEST_CASE("an LDAP login's groups are cached with it") {
  CredentialCache cache;
  BasicCredentials a{"alice", "secret"};
  const auto now = std::chrono::steady_clock::now();
  const auto key = cache.key(a, "ldap\nldap://dc1");
  cache.remember(key, now + std::chrono::seconds(10), {"teachers", "staff"});
  std::vector<std::string> groups;
  REQUIRE(cache.fresh(key, now, &groups));
  CHECK(groups == std::vector<std::string>{"teachers", "staff"});
  CHECK_FALSE(cache.fresh(cache.key(a, "ldap\nldap://dc2"), now));  // another directory
}
