#pragma once
// A pure reader of the first flight of a TLS client: the ClientHello (RFC 8446
// §4.1.2), reassembled from handshake records (§5.1) however the bytes were cut
// into TCP segments and records. No I/O, no OpenSSL: bytes in, an answer out.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::tls {

/// The four answers of the reader.
enum class HelloStatus {
  kNeedMore,     ///< the bytes so far are a valid prefix of a ClientHello
  kClientHello,  ///< a whole ClientHello was read (see HelloOutcome::hello)
  kNotTls,       ///< the first bytes are not a TLS handshake record (HTTP, SSLv2, SSH...)
  kMalformed,    ///< TLS records, but not a well-formed ClientHello
};

/// What the ClientHello says that a proxy may decide on.
struct ClientHello {
  uint16_t recordVersion = 0;     ///< legacy_record_version of the first record
  uint16_t legacyVersion = 0;     ///< ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3)
  bool hasSni = false;            ///< a server_name extension with a host_name was sent
  std::string sni;                ///< RFC 6066 §3 host_name, lower-cased; empty when !hasSni
  std::vector<std::string> alpn;  ///< RFC 7301 protocol names, in client order
  std::vector<uint16_t> supportedVersions;  ///< RFC 8446 §4.2.1, GREASE values included
  bool echOffered = false;  ///< encrypted_client_hello (0xfe0d) present, real or GREASE

  /// The ALPN list as one comma-separated string ("h2,http/1.1"), for logs.
  std::string alpnText() const;
};

/// The answer of readClientHello().
struct HelloOutcome {
  HelloStatus status = HelloStatus::kNeedMore;
  ClientHello hello;        ///< filled when kClientHello
  size_t consumed = 0;      ///< kClientHello: bytes of the records that carried it
  size_t errorOffset = 0;   ///< kNotTls/kMalformed: offset of the offending byte
  std::string_view reason;  ///< kNotTls/kMalformed: static text saying what was wrong
};

/// Limits of the reader.
struct HelloLimits {
  /// Largest ClientHello handshake message accepted (its 4-byte header
  /// included); beyond it the answer is kMalformed. Real ones are 200 B to
  /// 2 KiB (a post-quantum key share makes Chromium's ~1.9 KiB).
  size_t maxMessage = 16384;
};

/// The encrypted_client_hello extension code point (draft-ietf-tls-esni §11.1).
inline constexpr uint16_t kEchExtension = 0xfe0d;

/// Reads `bytes`, everything the client sent so far, from its first byte.
///
/// Stateless and pure: call it again with more bytes appended after
/// kNeedMore. A valid ClientHello answers kNeedMore for every proper prefix
/// of its first `consumed` bytes. kNotTls is decided on the first three
/// bytes (content type 22, major version 3); everything wrong after that is
/// kMalformed (bad lengths, other record types before the hello is whole, a
/// handshake message other than client_hello, duplicate extensions,
/// server_name and ALPN lists that break their RFCs, trailing bytes).
HelloOutcome readClientHello(std::string_view bytes, const HelloLimits& limits = {});

/// An incremental wrapper that keeps the bytes: feed() what arrives, and
/// forward buffered() once the answer is no longer kNeedMore.
class ClientHelloReader {
 public:
  explicit ClientHelloReader(HelloLimits limits = {}) : limits_(limits) {}

  /// Appends `more` and reads again; once the answer is final, further
  /// bytes are kept but not read.
  const HelloOutcome& feed(std::string_view more);

  const HelloOutcome& outcome() const { return outcome_; }
  /// Every byte fed so far, in order.
  const std::string& buffered() const { return buffer_; }

 private:
  HelloLimits limits_;
  std::string buffer_;
  HelloOutcome outcome_;
};

}  // namespace portcullis::tls
