#include "cache/policy/validation.h"

#include <array>
#include <string>

#include "cache/policy/http_date.h"

namespace portcullis::cache::policy {
namespace {

constexpr std::array<std::string_view, 10> kNotStored = {
    "Connection",        "Proxy-Connection",          "Keep-Alive", "TE",
    "Trailer",           "Transfer-Encoding",         "Upgrade",    "Proxy-Authenticate",
    "Proxy-Authorization", "Proxy-Authentication-Info"};

bool isExcludedFromStorage(std::string_view name, const http::HeaderMap& original) {
  for (auto n : kNotStored) {
    if (http::equalsIgnoreCase(name, n)) return true;
  }
  // §3.1 / RFC 9110 §7.6.1: fields named by Connection are hop-by-hop.
  return original.hasToken("Connection", name);
}

std::string_view opaque(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

bool isWeak(std::string_view tag) { return tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/'; }

// Splits an entity-tag list; commas inside quoted opaque-tags are kept.
std::vector<std::string_view> splitEtags(std::string_view v) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
    if (i >= v.size()) break;
    size_t start = i;
    bool inQuote = false;
    while (i < v.size() && (inQuote || v[i] != ',')) {
      if (v[i] == '"') inQuote = !inQuote;
      ++i;
    }
    std::string_view tag = v.substr(start, i - start);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    out.push_back(tag);
  }
  return out;
}

// The date a stored response was last modified for If-Modified-Since
// (RFC 9111 §4.3.2): Last-Modified, else Date, else when it was received.
int64_t lastModifiedOf(const StoredResponse& stored) {
  if (auto lm = stored.headers.get("Last-Modified")) {
    if (auto t = parseHttpDate(*lm)) return *t;
  }
  if (auto d = stored.headers.get("Date")) {
    if (auto t = parseHttpDate(*d)) return *t;
  }
  return toUnixSeconds(stored.responseTime);
}

}  // namespace

http::HeaderMap headersForStorage(const http::HeaderMap& responseHeaders) {
  http::HeaderMap out;
  for (const auto& f : responseHeaders.fields()) {
    if (!isExcludedFromStorage(f.name, responseHeaders)) out.add(f.name, f.value);
  }
  return out;
}

bool weakEtagMatch(std::string_view a, std::string_view b) {
  return !a.empty() && opaque(a) == opaque(b);
}

bool etagListMatches(std::string_view listValue, std::string_view etag, bool weak) {
  for (auto tag : splitEtags(listValue)) {
    if (tag == "*") return true;
    if (weak) {
      if (weakEtagMatch(tag, etag)) return true;
    } else if (!isWeak(tag) && !isWeak(etag) && tag == etag) {
      return true;
    }
  }
  return false;
}

bool addRevalidationHeaders(http::HeaderMap& upstream, const StoredResponse& stored) {
  for (auto name : {"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since",
                    "If-Range"}) {
    upstream.remove(name);
  }
  bool any = false;
  if (auto etag = stored.headers.get("ETag")) {
    upstream.set("If-None-Match", std::string(*etag));
    any = true;
  }
  if (auto lm = stored.headers.get("Last-Modified")) {
    upstream.set("If-Modified-Since", std::string(*lm));
    any = true;
  }
  return any;
}

bool notModifiedMatches(const StoredResponse& stored, const http::ResponseHead& notModified) {
  auto newTag = notModified.headers.get("ETag");
  auto oldTag = stored.headers.get("ETag");
  if (newTag && oldTag) return weakEtagMatch(*newTag, *oldTag);
  if (newTag && !oldTag) return false;
  auto newLm = notModified.headers.get("Last-Modified");
  auto oldLm = stored.headers.get("Last-Modified");
  if (newLm && oldLm) return parseHttpDate(*newLm) == parseHttpDate(*oldLm);
  return true;
}

StoredResponse mergeNotModified(const StoredResponse& stored, const http::ResponseHead& notModified,
                                SystemTime requestTime, SystemTime responseTime) {
  StoredResponse out = stored;
  const http::HeaderMap incoming = headersForStorage(notModified.headers);
  // §3.2: fields that describe the stored content itself are kept: the 304
  // has no content (Content-Length) and cannot re-encode or re-slice the
  // stored bytes (Content-Encoding, Content-Range, Content-MD5).
  auto describesStoredContent = [](std::string_view name) {
    for (auto kept : {"Content-Length", "Content-Encoding", "Content-Range", "Content-MD5"}) {
      if (http::equalsIgnoreCase(name, kept)) return true;
    }
    return false;
  };
  // Set-Cookie of a 304 belongs to the client whose request was validated:
  // stored, it would be handed to every later client (issue #12).
  auto kept = [&](std::string_view name) {
    return !describesStoredContent(name) && !isClientOnlyField(name);
  };
  for (const auto& f : incoming.fields()) {
    if (kept(f.name)) out.headers.remove(f.name);
  }
  for (const auto& f : incoming.fields()) {
    if (kept(f.name)) out.headers.add(f.name, f.value);
  }
  // A 304 without Age means the origin just validated it: the old Age no
  // longer describes the refreshed response.
  if (!incoming.has("Age")) out.headers.remove("Age");
  out.requestTime = requestTime;
  out.responseTime = responseTime;
  return out;
}

bool isClientOnlyField(std::string_view name) {
  return http::equalsIgnoreCase(name, "Set-Cookie") || http::equalsIgnoreCase(name, "Set-Cookie2");
}

StoredResponse mergeForClient(const StoredResponse& stored, const http::ResponseHead& notModified,
                              SystemTime requestTime, SystemTime responseTime) {
  StoredResponse out = mergeNotModified(stored, notModified, requestTime, responseTime);
  bool replaced = false;
  for (const auto& f : notModified.headers.fields()) {
    if (!isClientOnlyField(f.name)) continue;
    if (!replaced) {
      out.headers.remove("Set-Cookie");
      out.headers.remove("Set-Cookie2");
      replaced = true;
    }
    out.headers.add(f.name, f.value);
  }
  return out;
}

ClientConditional evaluateClientConditional(const http::RequestHead& request,
                                            const StoredResponse& stored) {
  if (request.methodKind != http::Method::kGet && request.methodKind != http::Method::kHead) {
    return ClientConditional::kNone;
  }
  if (stored.status < 200 || stored.status > 299) return ClientConditional::kNone;
  const auto& h = request.headers;
  const auto etag = stored.headers.get("ETag");
  // RFC 9110 §13.2.2 steps 1-2.
  if (auto im = h.getCombined("If-Match")) {
    if (!etagListMatches(*im, etag.value_or(""), false)) {
      return ClientConditional::kPreconditionFailed;
    }
  } else if (auto ius = h.get("If-Unmodified-Since")) {
    auto t = parseHttpDate(*ius);
    if (t && lastModifiedOf(stored) > *t) return ClientConditional::kPreconditionFailed;
  }
  // Steps 3-4.
  if (auto inm = h.getCombined("If-None-Match")) {
    return etagListMatches(*inm, etag.value_or(""), true) ? ClientConditional::kNotModified
                                                          : ClientConditional::kNone;
  }
  if (auto ims = h.get("If-Modified-Since")) {
    auto t = parseHttpDate(*ims);
    if (t && lastModifiedOf(stored) <= *t) return ClientConditional::kNotModified;
  }
  return ClientConditional::kNone;
}

http::ResponseHead buildNotModified(const StoredResponse& stored, int64_t age) {
  http::ResponseHead head;
  head.status = 304;
  head.reason = "Not Modified";
  for (const auto& f : stored.headers.fields()) {
    for (auto keep : {"Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary",
                      "Last-Modified"}) {
      if (http::equalsIgnoreCase(f.name, keep)) head.headers.add(f.name, f.value);
    }
  }
  head.headers.set("Age", std::to_string(age));
  return head;
}

}  // namespace portcullis::cache::policy
