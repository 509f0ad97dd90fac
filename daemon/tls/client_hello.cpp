#include "daemon/tls/client_hello.h"

#include <algorithm>
#include <optional>

namespace portcullis::tls {

namespace {

constexpr uint8_t kHandshakeRecord = 22;     // RFC 8446 §5.1 ContentType.handshake
constexpr uint8_t kClientHelloType = 1;      // RFC 8446 §4 HandshakeType.client_hello
constexpr size_t kRecordHeader = 5;          // type(1) legacy_record_version(2) length(2)
constexpr size_t kMaxFragment = 16384;       // RFC 8446 §5.1: length MUST NOT exceed 2^14
constexpr uint16_t kServerName = 0;          // RFC 6066 §3
constexpr uint16_t kAlpn = 16;               // RFC 7301 §3.1
constexpr uint16_t kPreSharedKey = 41;       // RFC 8446 §4.2.11
constexpr uint16_t kSupportedVersions = 43;  // RFC 8446 §4.2.1
constexpr uint8_t kHostName = 0;             // RFC 6066 §3 NameType.host_name

/// A failure inside the handshake message: its offset there and a reason.
struct BodyError {
  size_t offset;
  std::string_view reason;
};

/// Big-endian reads over the handshake message; every read checks bounds.
class Cursor {
 public:
  Cursor(std::string_view data, size_t base) : data_(data), base_(base) {}
  size_t remaining() const { return data_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }
  bool read(size_t n, uint32_t& out) {
    if (remaining() < n) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) out = (out << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    pos_ += n;
    return true;
  }
  bool take(size_t n, std::string_view& out) {
    if (remaining() < n) return false;
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  /// A vector with an n-byte length prefix: the cursor over its contents.
  bool vec(size_t lengthBytes, std::optional<Cursor>& out) {
    uint32_t len = 0;
    const size_t at = offset();
    std::string_view body;
    if (!read(lengthBytes, len) || !take(len, body)) return false;
    out.emplace(body, at + lengthBytes);
    return true;
  }

 private:
  std::string_view data_;
  size_t base_;
  size_t pos_ = 0;
};

bool hostByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

/// RFC 6066 §3: "HostName" is ASCII without a trailing dot; we also refuse
/// empty labels and anything but letters, digits, '-', '_' and '.', since a
/// name that no DNS could hold is only good for confusing a filter.
std::optional<std::string_view> checkHostName(std::string_view name) {
  if (name.empty() || name.size() > 253) return "server_name host_name has a bad length";
  if (!std::all_of(name.begin(), name.end(), hostByte))
    return "server_name host_name has a byte that is not a host name character";
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos)
    return "server_name host_name has an empty label or a trailing dot";
  return std::nullopt;
}

std::optional<BodyError> readServerName(Cursor ext, ClientHello& hello) {
  std::optional<Cursor> list;
  // The extension_data of a ClientHello holds a ServerNameList<1..2^16-1>.
  if (!ext.vec(2, list) || ext.remaining() != 0 || list->remaining() == 0)
    return BodyError{ext.offset(), "server_name list length does not match its extension"};
  while (list->remaining() > 0) {
    uint32_t type = 0;
    std::optional<Cursor> name;
    const size_t at = list->offset();
    if (!list->read(1, type) || !list->vec(2, name))
      return BodyError{at, "server_name entry overruns its list"};
    // RFC 6066 §3: only host_name is defined, and at most one name per type.
    if (type != kHostName) return BodyError{at, "server_name entry of an unknown name type"};
    if (hello.hasSni) return BodyError{at, "server_name list names two host names"};
    std::string_view host;
    (void)name->take(name->remaining(), host);
    if (auto why = checkHostName(host)) return BodyError{at + 3, *why};
    hello.hasSni = true;
    hello.sni.assign(host);
    std::transform(hello.sni.begin(), hello.sni.end(), hello.sni.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; });
  }
  return std::nullopt;
}

std::optional<BodyError> readAlpn(Cursor ext, ClientHello& hello) {
  std::optional<Cursor> list;
  // RFC 7301 §3.1: ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>.
  if (!ext.vec(2, list) || ext.remaining() != 0 || list->remaining() < 2)
    return BodyError{ext.offset(), "ALPN list length does not match its extension"};
  while (list->remaining() > 0) {
    const size_t at = list->offset();
    std::optional<Cursor> name;
    if (!list->vec(1, name) || name->remaining() == 0)
      return BodyError{at, "ALPN protocol name is empty or overruns its list"};
    std::string_view proto;
    (void)name->take(name->remaining(), proto);
    hello.alpn.emplace_back(proto);
  }
  return std::nullopt;
}

std::optional<BodyError> readSupportedVersions(Cursor ext, ClientHello& hello) {
  std::optional<Cursor> list;
  // RFC 8446 §4.2.1: ProtocolVersion versions<2..254> in a ClientHello.
  if (!ext.vec(1, list) || ext.remaining() != 0 || list->remaining() < 2 ||
      list->remaining() % 2 != 0)
    return BodyError{ext.offset(), "supported_versions list has a bad length"};
  uint32_t v = 0;
  while (list->read(2, v)) hello.supportedVersions.push_back(static_cast<uint16_t>(v));
  return std::nullopt;
}

std::optional<BodyError> readExtension(uint16_t type, Cursor data, ClientHello& hello) {
  switch (type) {
    case kServerName:
      return readServerName(data, hello);
    case kAlpn:
      return readAlpn(data, hello);
    case kSupportedVersions:
      return readSupportedVersions(data, hello);
    case kEchExtension:
      // Present whether real or GREASE (draft-ietf-tls-esni §6.2): the two
      // look alike by design, so the reader only says "offered".
      hello.echOffered = true;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<BodyError> readExtensions(Cursor& c, ClientHello& hello) {
  std::optional<Cursor> exts;
  if (!c.vec(2, exts) || c.remaining() != 0)
    return BodyError{c.offset(), "extensions length does not match the ClientHello"};
  std::vector<uint16_t> seen;
  while (exts->remaining() > 0) {
    const size_t at = exts->offset();
    uint32_t type = 0;
    std::optional<Cursor> data;
    if (!exts->read(2, type) || !exts->vec(2, data))
      return BodyError{at, "extension overruns the extensions block"};
    // RFC 8446 §4.2: no two extensions of one type (two server_names would
    // let a filter and a server read different names).
    if (std::find(seen.begin(), seen.end(), type) != seen.end())
      return BodyError{at, "extension sent twice"};
    seen.push_back(static_cast<uint16_t>(type));
    // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension.
    if (type == kPreSharedKey && exts->remaining() != 0)
      return BodyError{at, "pre_shared_key is not the last extension"};
    if (auto err = readExtension(static_cast<uint16_t>(type), *data, hello)) return err;
  }
  return std::nullopt;
}

/// RFC 8446 §4.1.2: the ClientHello body after the 4-byte handshake header.
std::optional<BodyError> readBody(std::string_view body, ClientHello& hello) {
  Cursor c(body, 4);
  uint32_t version = 0;
  std::string_view random;
  std::optional<Cursor> sessionId, suites, compression;
  if (!c.read(2, version) || !c.take(32, random))
    return BodyError{c.offset(), "ClientHello shorter than its fixed fields"};
  if ((version >> 8) != 3) return BodyError{4, "ClientHello legacy_version is not 3.x"};
  hello.legacyVersion = static_cast<uint16_t>(version);
  if (!c.vec(1, sessionId) || sessionId->remaining() > 32)
    return BodyError{c.offset(), "legacy_session_id has a bad length"};
  if (!c.vec(2, suites) || suites->remaining() < 2 || suites->remaining() % 2 != 0)
    return BodyError{c.offset(), "cipher_suites has a bad length"};
  if (!c.vec(1, compression) || compression->remaining() < 1)
    return BodyError{c.offset(), "legacy_compression_methods has a bad length"};
  // Before TLS 1.3 the extensions block may be absent (RFC 5246 §7.4.1.2).
  if (c.remaining() == 0) return std::nullopt;
  return readExtensions(c, hello);
}

/// One piece of the handshake message: where it starts in the message and
/// in the input, so that errors name an input offset.
struct Piece {
  size_t messageAt;
  size_t inputAt;
};

size_t inputOffset(const std::vector<Piece>& pieces, size_t messageOffset) {
  size_t result = 0;
  for (const Piece& p : pieces) {
    if (p.messageAt > messageOffset) break;
    result = p.inputAt + (messageOffset - p.messageAt);
  }
  return result;
}

HelloOutcome fail(HelloStatus status, size_t offset, std::string_view reason) {
  HelloOutcome o;
  o.status = status;
  o.errorOffset = offset;
  o.reason = reason;
  return o;
}

/// The first three bytes decide "TLS or not" (RFC 8446 §5.1, Appendix D.2 for
/// SSL 2.0's two-byte header with the high bit set).
std::optional<HelloOutcome> checkFirstBytes(std::string_view b) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(b[i]); };
  if (byte(0) != kHandshakeRecord) {
    if (byte(0) & 0x80) return fail(HelloStatus::kNotTls, 0, "SSL 2.0 record header");
    return fail(HelloStatus::kNotTls, 0, "first byte is not a TLS handshake record");
  }
  if (b.size() > 1 && byte(1) != 3)
    return fail(HelloStatus::kNotTls, 1, "record version is not 3.x");
  if (b.size() > 2 && byte(2) > 4) return fail(HelloStatus::kNotTls, 2, "record version above 3.4");
  return std::nullopt;
}

}  // namespace

std::string ClientHello::alpnText() const {
  std::string out;
  for (const std::string& p : alpn) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

HelloOutcome readClientHello(std::string_view bytes, const HelloLimits& limits) {
  if (bytes.empty()) return {};
  if (auto notTls = checkFirstBytes(bytes)) return *notTls;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  std::string message;  // the handshake message, reassembled from the fragments
  std::vector<Piece> pieces;
  size_t pos = 0;
  while (true) {
    if (bytes.size() - pos < kRecordHeader) {
      // A partial header after the first record: judge the bytes there are.
      if (pos > 0 && bytes.size() > pos && byte(pos) != kHandshakeRecord)
        return fail(HelloStatus::kMalformed, pos, "a non-handshake record inside the ClientHello");
      return {};
    }
    // RFC 8446 §5.1: a handshake message may span records, but no other
    // record type may come between its fragments, and none may be empty.
    if (byte(pos) != kHandshakeRecord)
      return fail(HelloStatus::kMalformed, pos, "a non-handshake record inside the ClientHello");
    if (byte(pos + 1) != 3)
      return fail(HelloStatus::kMalformed, pos + 1, "record version is not 3.x");
    const size_t len = (size_t{byte(pos + 3)} << 8) | byte(pos + 4);
    if (len == 0) return fail(HelloStatus::kMalformed, pos + 3, "empty handshake record");
    if (len > kMaxFragment)
      return fail(HelloStatus::kMalformed, pos + 3, "record longer than 2^14");
    const size_t have = std::min(len, bytes.size() - pos - kRecordHeader);
    pieces.push_back({message.size(), pos + kRecordHeader});
    message.append(bytes.substr(pos + kRecordHeader, have));
    if (!message.empty() && static_cast<uint8_t>(message[0]) != kClientHelloType)
      return fail(HelloStatus::kMalformed, kRecordHeader,
                  "first handshake message is not a ClientHello");
    if (message.size() >= 4) {
      const auto m = [&](size_t i) { return size_t{static_cast<uint8_t>(message[i])}; };
      const size_t total = 4 + ((m(1) << 16) | (m(2) << 8) | m(3));
      if (total > limits.maxMessage)
        return fail(HelloStatus::kMalformed, kRecordHeader + 1,
                    "ClientHello longer than the limit");
      if (message.size() >= total) {
        HelloOutcome o;
        o.hello.recordVersion = static_cast<uint16_t>((byte(1) << 8) | byte(2));
        if (auto err = readBody(std::string_view(message).substr(4, total - 4), o.hello))
          return fail(HelloStatus::kMalformed,
                      inputOffset(pieces, std::min(err->offset, total - 1)), err->reason);
        o.status = HelloStatus::kClientHello;
        o.consumed = inputOffset(pieces, total - 1) + 1;
        return o;
      }
    }
    if (have < len) return {};
    pos += kRecordHeader + len;
  }
}

const HelloOutcome& ClientHelloReader::feed(std::string_view more) {
  buffer_.append(more);
  if (outcome_.status == HelloStatus::kNeedMore) outcome_ = readClientHello(buffer_, limits_);
  return outcome_;
}

}  // namespace portcullis::tls
