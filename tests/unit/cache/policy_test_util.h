#pragma once
// Small builders for the cache policy tests.

#include <chrono>
#include <initializer_list>
#include <string>
#include <utility>

#include "cache/policy/stored_response.h"
#include "daemon/http/message.h"

namespace portcullis::cache::testing {

inline http::HeaderMap headers(std::initializer_list<std::pair<std::string, std::string>> fields) {
  http::HeaderMap h;
  for (const auto& [n, v] : fields) h.add(n, v);
  return h;
}

inline SystemTime at(int64_t unixSeconds) { return SystemTime(std::chrono::seconds(unixSeconds)); }

// 1994-11-06 08:49:37 GMT, the RFC's example date, as the base of every table.
inline constexpr int64_t kT0 = 784111777;
inline constexpr const char* kT0Date = "Sun, 06 Nov 1994 08:49:37 GMT";

inline http::RequestHead get(http::HeaderMap h = {}) {
  http::RequestHead r;
  r.method = "GET";
  r.methodKind = http::Method::kGet;
  r.target = "http://example.com/a";
  r.headers = std::move(h);
  return r;
}

inline http::ResponseHead response(int status, http::HeaderMap h = {}) {
  http::ResponseHead r;
  r.status = status;
  r.reason = "X";
  r.headers = std::move(h);
  return r;
}

inline policy::StoredResponse stored(int status, http::HeaderMap h, int64_t requestTime = kT0,
                                     int64_t responseTime = kT0) {
  policy::StoredResponse s;
  s.status = status;
  s.headers = std::move(h);
  s.requestTime = at(requestTime);
  s.responseTime = at(responseTime);
  return s;
}

}  // namespace portcullis::cache::testing
