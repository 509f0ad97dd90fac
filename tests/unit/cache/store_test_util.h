#pragma once
// Helpers for the disk cache tests: a temporary directory and short-hands
// for writing and reading entries.

#include <dirent.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "tests/unit/cache/policy_test_util.h"

namespace portcullis::cache::testing {

/// mkdtemp directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pc-cache-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline CacheOptions options(const std::string& dir, uint64_t maxSize = 1 << 20) {
  CacheOptions o;
  o.dir = dir;
  o.maxSize = maxSize;
  o.maxObjectSize = 1 << 20;
  o.flushInterval = std::chrono::milliseconds(5);
  return o;
}

inline std::unique_ptr<Cache> openCache(const CacheOptions& o) {
  auto c = Cache::open(o);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  c.value()->waitUntilReady();
  return std::move(c).value();
}

inline WriteRequest writeRequest(std::string key, size_t length,
                                 http::HeaderMap responseHeaders = headers({{"Cache-Control", "max-age=60"}}),
                                 http::HeaderMap requestHeaders = {}) {
  WriteRequest w;
  w.key = std::move(key);
  w.requestHeaders = std::move(requestHeaders);
  w.response = response(200, std::move(responseHeaders));
  w.requestTime = at(kT0);
  w.responseTime = at(kT0 + 1);
  w.expectedLength = length;
  return w;
}

/// Stores `body` under `key` in one go; returns the committed entry.
inline std::shared_ptr<const StoredEntry> put(Cache& cache, const std::string& key, const std::string& body,
                                              http::HeaderMap responseHeaders = headers({{"Cache-Control", "max-age=60"}}),
                                              http::HeaderMap requestHeaders = {}) {
  auto w = cache.beginWrite(writeRequest(key, body.size(), std::move(responseHeaders), std::move(requestHeaders)));
  REQUIRE_MESSAGE(w.ok(), (w.ok() ? "" : w.error().message));
  REQUIRE(w.value()->append(body).ok());
  auto e = w.value()->commit();
  REQUIRE_MESSAGE(e.ok(), (e.ok() ? "" : e.error().message));
  return e.value();
}

inline std::string readFd(int fd) {
  std::string out;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

/// Body of a cached entry, or "<miss>" / "<unreadable>".
inline std::string bodyOf(Cache& cache, const std::string& key, const http::HeaderMap& req = {}) {
  auto e = cache.lookup(key, req);
  if (!e) return "<miss>";
  auto fd = cache.openBody(*e);
  if (!fd) return "<unreadable>";
  return readFd(fd->get());
}

/// Regular files under dir/sub, recursively (relative names).
inline std::vector<std::string> filesUnder(const std::string& dir, const std::string& sub) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/" + sub, ec)) {
    if (e.is_regular_file()) out.push_back(e.path().lexically_relative(dir).string());
  }
  return out;
}

}  // namespace portcullis::cache::testing
