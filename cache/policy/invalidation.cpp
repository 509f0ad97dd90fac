#include "cache/policy/invalidation.h"

#include <algorithm>

namespace portcullis::cache::policy {
namespace {

// Resolves a Location / Content-Location reference (RFC 3986 §5.2, the
// forms servers actually send) to a key, or "" when it is another origin or
// not understood.
std::string resolveSameOrigin(std::string_view ref, const http::Target& base,
                              const CacheRules* rules) {
  while (!ref.empty() && (ref.front() == ' ' || ref.front() == '\t')) ref.remove_prefix(1);
  if (ref.empty()) return "";
  const size_t hash = ref.find('#');
  if (hash != std::string_view::npos) ref = ref.substr(0, hash);
  std::string absolute;
  if (ref.find("://") != std::string_view::npos) {
    absolute = std::string(ref);
  } else if (ref.substr(0, 2) == "//") {
    absolute = base.scheme + ":" + std::string(ref);
  } else {
    std::string path;
    if (ref.front() == '/') {
      path = std::string(ref);
    } else {
      // Relative path: merge with the base path's directory (§5.2.3).
      std::string basePath = base.pathAndQuery.substr(0, base.pathAndQuery.find('?'));
      basePath = basePath.substr(0, basePath.rfind('/') + 1);
      if (basePath.empty()) basePath = "/";
      path = basePath + std::string(ref);
    }
    absolute = base.scheme + "://" + base.authority() + path;
  }
  auto parsed = http::parseAbsoluteForm(absolute);
  if (!parsed.ok()) return "";
  const auto& t = parsed.value();
  if (t.scheme != base.scheme || t.host != base.host || t.port != base.port) return "";
  return primaryKey(t, rules);
}

}  // namespace

std::string primaryKey(const http::Target& target) { return target.normalizedUri(); }

std::string primaryKey(const http::Target& target, const CacheRules* rules) {
  return rules != nullptr ? rules->primaryKey(target) : target.normalizedUri();
}

bool isSafeMethod(http::Method method) {
  return method == http::Method::kGet || method == http::Method::kHead ||
         method == http::Method::kOptions || method == http::Method::kTrace;
}

std::vector<std::string> invalidationKeys(const http::RequestHead& request,
                                          const http::Target& target,
                                          const http::ResponseHead& response,
                                          const CacheRules* rules) {
  std::vector<std::string> keys;
  if (isSafeMethod(request.methodKind) || request.methodKind == http::Method::kConnect) return keys;
  if (response.status < 200 || response.status > 399) return keys;
  keys.push_back(primaryKey(target, rules));
  for (auto name : {"Location", "Content-Location"}) {
    if (auto v = response.headers.get(name)) {
      std::string k = resolveSameOrigin(*v, target, rules);
      if (!k.empty() && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  return keys;
}

}  // namespace portcullis::cache::policy
