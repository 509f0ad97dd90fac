#include "daemon/http/framing.h"

#include <cstdint>
#include <limits>

#include "daemon/http/char_class.h"
#include "daemon/http/host_port.h"

namespace portcullis::http {

namespace {

constexpr uint64_t kMaxContentLength = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

/// What the Transfer-Encoding fields of a message say, all lines taken as one list.
struct Codings {
  size_t count = 0;
  size_t chunkedCount = 0;
  bool lastIsChunked = false;
  bool malformed = false;  ///< empty member, parameters on chunked, or a non-token
};

Codings readCodings(const HeaderMap& headers) {
  Codings c;
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, "Transfer-Encoding")) continue;
    std::string_view list = f.value;
    size_t pos = 0;
    for (;;) {
      size_t comma = list.find(',', pos);
      if (comma == std::string_view::npos) comma = list.size();
      std::string_view member = trimOws(list.substr(pos, comma - pos));
      // transfer-coding = token *( OWS ";" OWS transfer-parameter ); we only
      // need the name, but the whole member must at least start with a token.
      const size_t semi = member.find(';');
      const std::string_view name = trimOws(member.substr(0, semi));
      if (!isToken(name)) c.malformed = true;
      const bool chunked = equalsIgnoreCase(name, "chunked");
      // RFC 9112 §7: chunked has no parameters.
      if (chunked && semi != std::string_view::npos) c.malformed = true;
      ++c.count;
      c.chunkedCount += chunked ? 1 : 0;
      c.lastIsChunked = chunked;
      if (comma == list.size()) break;
      pos = comma + 1;
    }
  }
  return c;
}

/// Content-Length: exactly one field line holding 1*DIGIT that fits in int64.
Result<uint64_t> readContentLength(const HeaderMap& headers, int status) {
  size_t seen = 0;
  std::string_view only;
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, "Content-Length")) continue;
    // RFC 9112 §6.3 item 5 lets a recipient merge identical values; we
    // refuse every repetition because we never need one and a peer might
    // interpret it differently.
    if (++seen > 1) return makeError("several Content-Length fields", status);
    only = f.value;
  }
  if (only.empty()) return makeError("empty Content-Length", status);
  uint64_t n = 0;
  for (char ch : only) {
    if (!isDigit(ch)) return makeError("Content-Length is not a decimal number", status);
    const auto d = static_cast<uint64_t>(ch - '0');
    if (n > (kMaxContentLength - d) / 10) return makeError("Content-Length too large", status);
    n = n * 10 + d;
  }
  return n;
}

}  // namespace

Result<Framing> requestFraming(const RequestHead& head) {
  const bool hasTe = head.headers.has("Transfer-Encoding");
  const bool hasCl = head.headers.has("Content-Length");
  if (hasTe) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (head.versionMinor == 0) return makeError("Transfer-Encoding in an HTTP/1.0 request", 400);
    // RFC 9112 §6.1/§6.3: both present is a smuggling attempt until proven otherwise.
    if (hasCl) return makeError("both Transfer-Encoding and Content-Length", 400);
    const Codings c = readCodings(head.headers);
    if (c.malformed) return makeError("malformed Transfer-Encoding", 400);
    // RFC 9112 §6.3 item 4: chunked not final in a request -> 400.
    if (!c.lastIsChunked) return makeError("chunked is not the final transfer coding", 400);
    // RFC 9112 §6.1: chunked must not be applied more than once.
    if (c.chunkedCount > 1) return makeError("chunked applied more than once", 400);
    // RFC 9112 §6.1: a coding we do not implement -> 501.
    if (c.count > 1) return makeError("unsupported transfer coding", 501);
    return Framing{BodyKind::kChunked, 0};
  }
  if (hasCl) {
    Result<uint64_t> n = readContentLength(head.headers, 400);
    if (!n) return n.error();
    return Framing{BodyKind::kContentLength, *n};
  }
  // RFC 9112 §6.3 item 7: a request without either has no body.
  return Framing{BodyKind::kNone, 0};
}

Result<Framing> responseFraming(const ResponseHead& head, Method requestMethod) {
  // RFC 9112 §6.3 items 1-2: these never have content, whatever the fields say.
  if (requestMethod == Method::kHead || head.status < 200 || head.status == 204 ||
      head.status == 304) {
    return Framing{BodyKind::kNone, 0};
  }
  if (requestMethod == Method::kConnect && head.status < 300) return Framing{BodyKind::kNone, 0};
  const bool hasTe = head.headers.has("Transfer-Encoding");
  const bool hasCl = head.headers.has("Content-Length");
  if (hasTe) {
    if (head.versionMinor == 0) return makeError("Transfer-Encoding in an HTTP/1.0 response", 502);
    // RFC 9112 §6.3 item 3 would let TE override CL; we refuse the ambiguity.
    if (hasCl) return makeError("both Transfer-Encoding and Content-Length", 502);
    const Codings c = readCodings(head.headers);
    // Anything but exactly "chunked" would need us to decode other codings
    // or read until close (§6.3 item 4); refusing is simpler and safer.
    if (c.malformed || c.count != 1 || !c.lastIsChunked) {
      return makeError("unsupported Transfer-Encoding in response", 502);
    }
    return Framing{BodyKind::kChunked, 0};
  }
  if (hasCl) {
    Result<uint64_t> n = readContentLength(head.headers, 502);
    if (!n) return n.error();
    return Framing{BodyKind::kContentLength, *n};
  }
  // RFC 9112 §6.3 item 8.
  return Framing{BodyKind::kUntilClose, 0};
}

Result<void> checkHostField(const RequestHead& head) {
  const size_t count = head.headers.count("Host");
  if (count > 1) return makeError("several Host fields", 400);
  if (count == 0) {
    if (head.versionMinor >= 1) return makeError("HTTP/1.1 request without Host", 400);
    return {};
  }
  const std::string_view value = *head.headers.get("Host");
  // RFC 9112 §3.2: Host may be empty when the target has no authority.
  if (value.empty()) return {};
  Result<HostPort> r = parseHostPort(value, {.portRequired = false, .defaultPort = 80});
  if (!r) return makeError("invalid Host field: " + r.error().message, 400);
  return {};
}

}  // namespace portcullis::http
