#include "daemon/proxy/forwarding.h"

#include <charconv>

#include "daemon/http/message_writer.h"

namespace portcullis::proxy {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string viaEntry(int versionMinor, std::string_view pseudonym) {
  std::string entry = versionMinor == 0 ? "1.0 " : "1.1 ";
  entry += pseudonym;
  return entry;
}

void appendVia(http::HeaderMap& headers, int versionMinor, std::string_view pseudonym) {
  auto existing = headers.getCombined("Via");
  headers.remove("Via");
  std::string value = existing ? *existing + ", " : std::string();
  value += viaEntry(versionMinor, pseudonym);
  headers.add("Via", std::move(value));
}

void setFraming(http::HeaderMap& headers, BodyEncoding encoding, uint64_t contentLength) {
  headers.remove("Content-Length");
  headers.remove("Transfer-Encoding");
  if (encoding == BodyEncoding::kContentLength) {
    headers.add("Content-Length", std::to_string(contentLength));
  } else if (encoding == BodyEncoding::kChunked) {
    headers.add("Transfer-Encoding", "chunked");
  }
}
}  // namespace

bool viaNamesUs(const http::HeaderMap& headers, std::string_view pseudonym) {
  for (auto value : headers.getAll("Via")) {
    // Via = #( received-protocol RWS received-by [ RWS comment ] )
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      if (comma == std::string_view::npos) comma = value.size();
      auto member = trim(value.substr(pos, comma - pos));
      auto space = member.find(' ');
      if (space != std::string_view::npos) {
        auto by = trim(member.substr(space + 1));
        auto end = by.find_first_of(" \t(");
        if (end != std::string_view::npos) by = by.substr(0, end);
        if (http::equalsIgnoreCase(by, pseudonym)) return true;
      }
      pos = comma + 1;
    }
  }
  return false;
}

std::string buildUpstreamRequest(const http::RequestHead& request, const http::Target& target,
                                 BodyEncoding bodyEncoding, uint64_t contentLength,
                                 std::string_view pseudonym) {
  http::HeaderMap headers = request.headers;
  http::removeHopByHopFields(headers);
  // RFC 9112 §3.2.2: a proxy replaces Host with the authority of the target URI.
  headers.remove("Host");
  setFraming(headers, bodyEncoding, contentLength);
  if (request.methodKind == http::Method::kTrace || request.methodKind == http::Method::kOptions) {
    if (auto mf = headers.get("Max-Forwards")) {
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(mf->data(), mf->data() + mf->size(), n);
      if (ec == std::errc() && p == mf->data() + mf->size() && n > 0) {
        headers.set("Max-Forwards", std::to_string(n - 1));
      }
    }
  }
  appendVia(headers, request.versionMinor, pseudonym);
  std::string out;
  out.reserve(256 + 64 * headers.size());
  out.append(request.method).append(" ").append(target.pathAndQuery).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(target.hostHeaderValue()).append("\r\n");
  for (const auto& f : headers.fields()) {
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  out.append("\r\n");
  return out;
}

BodyEncoding clientBodyEncoding(const http::Framing& upstreamFraming, int clientVersionMinor) {
  switch (upstreamFraming.kind) {
    case http::BodyKind::kNone:
      return BodyEncoding::kNone;
    case http::BodyKind::kContentLength:
      return BodyEncoding::kContentLength;
    case http::BodyKind::kChunked:
    case http::BodyKind::kUntilClose:
      return clientVersionMinor >= 1 ? BodyEncoding::kChunked : BodyEncoding::kUntilClose;
  }
  return BodyEncoding::kUntilClose;
}

std::string buildClientResponse(const http::ResponseHead& response, BodyEncoding encoding,
                                uint64_t contentLength, bool close, std::string_view pseudonym,
                                const http::HeaderMap* extraFields) {
  http::HeaderMap headers = response.headers;
  http::removeHopByHopFields(headers);
  // Bodiless answers (HEAD, 304) keep the origin's Content-Length as metadata.
  if (encoding != BodyEncoding::kNone) setFraming(headers, encoding, contentLength);
  appendVia(headers, response.versionMinor, pseudonym);
  if (close) headers.add("Connection", "close");
  if (extraFields != nullptr) {
    for (const auto& f : extraFields->fields()) headers.add(f.name, f.value);
  }
  std::string out;
  http::writeResponseHead(out, response.status, response.reason, headers);
  return out;
}

bool clientWantsKeepAlive(const http::RequestHead& request) {
  if (request.versionMinor == 0) return false;
  return !request.headers.hasToken("Connection", "close");
}

bool upstreamReusable(const http::ResponseHead& response, const http::Framing& framing) {
  if (framing.kind == http::BodyKind::kUntilClose) return false;
  if (response.versionMinor == 0) return response.headers.hasToken("Connection", "keep-alive");
  return !response.headers.hasToken("Connection", "close");
}

bool maxForwardsExhausted(const http::RequestHead& request) {
  if (request.methodKind != http::Method::kTrace && request.methodKind != http::Method::kOptions) {
    return false;
  }
  auto mf = request.headers.get("Max-Forwards");
  return mf && trim(*mf) == "0";
}

}  // namespace portcullis::proxy
