#include "daemon/tls/client_hello.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

using namespace portcullis::tls;

namespace {

std::string fixture(const char* name) {
  const std::string path = std::string(PORTCULLIS_CLIENT_HELLO_CORPUS) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string u16(size_t v) {
  return {char(v >> 8), char(v & 0xff)};
}
std::string u24(size_t v) {
  return {char(v >> 16), char((v >> 8) & 0xff), char(v & 0xff)};
}

/// Builds ClientHellos field by field, so that each malformed case breaks one thing.
struct Builder {
  std::string version = u16(0x0303);
  std::string sessionId = std::string(1, char(32)) + std::string(32, 'S');
  std::string suites = u16(4) + u16(0x1301) + u16(0x1302);
  std::string compression = std::string("\x01\x00", 2);
  std::vector<std::pair<uint16_t, std::string>> exts;
  bool noExtensions = false;

  Builder& ext(uint16_t type, std::string data) {
    exts.emplace_back(type, std::move(data));
    return *this;
  }
  Builder& sni(const std::string& host) {
    const std::string entry = std::string(1, '\0') + u16(host.size()) + host;
    return ext(0, u16(entry.size()) + entry);
  }
  std::string body() const {
    std::string b = version + std::string(32, 'R') + sessionId + suites + compression;
    if (noExtensions) return b;
    std::string all;
    for (const auto& [type, data] : exts) all += u16(type) + u16(data.size()) + data;
    return b + u16(all.size()) + all;
  }
  /// The handshake message (type 1, uint24 length).
  std::string message() const { return std::string(1, '\x01') + u24(body().size()) + body(); }
  /// The message cut into handshake records of at most `fragment` bytes.
  std::string records(size_t fragment = 16384) const {
    const std::string m = message();
    std::string out;
    for (size_t i = 0; i < m.size(); i += fragment) {
      const std::string piece = m.substr(i, fragment);
      out += std::string("\x16\x03\x01", 3) + u16(piece.size()) + piece;
    }
    return out;
  }
};

std::string alpnExt(std::vector<std::string> names) {
  std::string list;
  for (const auto& n : names) list += std::string(1, char(n.size())) + n;
  return u16(list.size()) + list;
}

/// Feeds `bytes` in the pieces that `cuts` delimit; every answer before the
/// last piece must be kNeedMore.
HelloOutcome feedInPieces(const std::string& bytes, const std::vector<size_t>& cuts) {
  ClientHelloReader reader;
  size_t from = 0;
  for (size_t cut : cuts) {
    const HelloOutcome& o = reader.feed(std::string_view(bytes).substr(from, cut - from));
    REQUIRE(o.status == HelloStatus::kNeedMore);
    from = cut;
  }
  HelloOutcome last = reader.feed(std::string_view(bytes).substr(from));
  CHECK(reader.buffered() == bytes);
  return last;
}

}  // namespace

TEST_CASE("captured ClientHellos read whole, byte by byte and split at every offset") {
  struct Row {
    const char* file;
    const char* sni;  // "" = none
    const char* alpn;
    bool ech;
    std::vector<uint16_t> versions;
  };
  const Row rows[] = {
      {"openssl_s_client.bin", "www.example.org", "", false, {0x0304, 0x0303, 0x0302, 0x0301}},
      {"openssl_alpn_tls12.bin", "example.net", "h2,http/1.1", false, {}},
      {"openssl_no_sni.bin", "", "", false, {0x0304, 0x0303, 0x0302, 0x0301}},
      {"curl.bin", "www.example.com", "h2,http/1.1", false, {0x0304, 0x0303, 0x0302, 0x0301}},
      {"curl_http11.bin", "api.example.com", "http/1.1", false, {0x0304, 0x0303, 0x0302, 0x0301}},
      // Chromium sends a GREASE version and an ECH GREASE extension on every
      // connection (so "ECH offered" cannot mean "real ECH").
      {"chromium.bin", "www.chromium-test.example", "h2,http/1.1", true, {0x6a6a, 0x0304, 0x0303}},
      {"chromium_split_records.bin",
       "www.chromium-test.example",
       "h2,http/1.1",
       true,
       {0x6a6a, 0x0304, 0x0303}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.file);
    const std::string bytes = fixture(row.file);
    const auto expect = [&](const HelloOutcome& o) {
      REQUIRE(o.status == HelloStatus::kClientHello);
      CHECK(o.consumed == bytes.size());
      CHECK(o.hello.hasSni == (row.sni[0] != '\0'));
      CHECK(o.hello.sni == row.sni);
      CHECK(o.hello.alpnText() == row.alpn);
      CHECK(o.hello.echOffered == row.ech);
      CHECK(o.hello.supportedVersions == row.versions);
      CHECK(o.hello.legacyVersion == 0x0303);
      CHECK(o.hello.recordVersion == 0x0301);
    };
    expect(readClientHello(bytes));
    std::vector<size_t> everyByte;
    for (size_t i = 1; i < bytes.size(); ++i) everyByte.push_back(i);
    expect(feedInPieces(bytes, everyByte));
    for (size_t cut = 1; cut < bytes.size(); ++cut) expect(feedInPieces(bytes, {cut}));
  }
}

TEST_CASE("a ClientHello split over many records, down to one byte per record") {
  Builder b;
  b.sni("Split.Example.COM").ext(16, alpnExt({"h2"})).ext(kEchExtension, "x");
  for (size_t fragment : {1, 2, 7, 100, 16384}) {
    CAPTURE(fragment);
    const std::string bytes = b.records(fragment);
    const HelloOutcome o = readClientHello(bytes);
    REQUIRE(o.status == HelloStatus::kClientHello);
    CHECK(o.hello.sni == "split.example.com");
    CHECK(o.hello.alpn == std::vector<std::string>{"h2"});
    CHECK(o.hello.echOffered);
    CHECK(o.consumed == bytes.size());
    for (size_t cut = 1; cut < bytes.size(); ++cut)
      REQUIRE(readClientHello(std::string_view(bytes).substr(0, cut)).status ==
              HelloStatus::kNeedMore);
  }
}

TEST_CASE("bytes after the ClientHello are not consumed, and the extensions may be absent") {
  Builder b;
  b.noExtensions = true;
  const std::string hello = b.records();
  const HelloOutcome o = readClientHello(hello + std::string("\x17\x03\x03\x00\x01X", 6));
  REQUIRE(o.status == HelloStatus::kClientHello);
  CHECK(o.consumed == hello.size());
  CHECK_FALSE(o.hello.hasSni);
  CHECK(o.hello.alpn.empty());
}

TEST_CASE("a record that is big enough is accepted up to the limits") {
  Builder b;
  b.sni("big.example").ext(21, std::string(15000, '\0'));  // padding (RFC 7685)
  CHECK(readClientHello(b.records()).status == HelloStatus::kClientHello);
  CHECK(readClientHello(b.records(), {.maxMessage = 4096}).status == HelloStatus::kMalformed);
  b.ext(22, std::string(2000, '\0'));  // now over 16 KiB: must be split over records
  CHECK(readClientHello(b.records(), {.maxMessage = 65536}).status == HelloStatus::kClientHello);
  CHECK(readClientHello(b.records()).reason == "ClientHello longer than the limit");
}

TEST_CASE("not TLS") {
  const std::pair<std::string, const char*> rows[] = {
      {"GET / HTTP/1.1\r\n", "first byte is not a TLS handshake record"},
      {"CONNECT x:443 HTTP/1.1\r\n", "first byte is not a TLS handshake record"},
      {"SSH-2.0-OpenSSH\r\n", "first byte is not a TLS handshake record"},
      {fixture("not_tls_sslv2.bin"), "SSL 2.0 record header"},
      {std::string("\x17\x03\x03\x00\x10", 5), "first byte is not a TLS handshake record"},
      {std::string("\x16\x02", 2), "record version is not 3.x"},
      {std::string("\x16\x03\x05", 3), "record version above 3.4"},
  };
  for (const auto& [bytes, reason] : rows) {
    CAPTURE(bytes);
    const HelloOutcome o = readClientHello(bytes);
    CHECK(o.status == HelloStatus::kNotTls);
    CHECK(o.reason == reason);
    // One byte is enough to say "not TLS" for all but the version cases.
    if (bytes[0] != '\x16')
      CHECK(readClientHello(bytes.substr(0, 1)).status == HelloStatus::kNotTls);
  }
  CHECK(readClientHello("").status == HelloStatus::kNeedMore);
  CHECK(readClientHello("\x16").status == HelloStatus::kNeedMore);
}

TEST_CASE("malformed ClientHellos") {
  const auto withExts = [](std::vector<std::pair<uint16_t, std::string>> exts) {
    Builder b;
    b.exts = std::move(exts);
    return b.records();
  };
  const std::string sniOk = std::string(1, '\0') + u16(4) + "a.bc";
  std::string badFirstMessage = Builder().records();
  badFirstMessage[5] = '\x02';  // a ServerHello
  std::string shortLength = Builder().records();
  shortLength[8] = char(shortLength[8] - 1);  // message one byte shorter than its body
  const std::string handshake = Builder().records();
  const std::pair<std::string, const char*> rows[] = {
      {badFirstMessage, "first handshake message is not a ClientHello"},
      {std::string("\x16\x03\x01\x00\x00", 5), "empty handshake record"},
      {std::string("\x16\x03\x01\x40\x01", 5), "record longer than 2^14"},
      {shortLength, "extensions length does not match the ClientHello"},
      // The first record announces more of the message, but an alert follows.
      {Builder().records(10).substr(0, 15) + std::string("\x15\x03\x03\x00\x02\x02\x28", 7),
       "a non-handshake record inside the ClientHello"},
      {withExts({{0, u16(sniOk.size()) + sniOk}, {0, u16(sniOk.size()) + sniOk}}),
       "extension sent twice"},
      {withExts({{0, ""}}), "server_name list length does not match its extension"},
      {withExts({{0, u16(sniOk.size() * 2) + sniOk + sniOk}}),
       "server_name list names two host names"},
      {withExts({{0, u16(7) + std::string(1, '\x01') + u16(4) + "a.bc"}}),
       "server_name entry of an unknown name type"},
      {withExts({{0, u16(8) + std::string(1, '\0') + u16(5) + "a.bc."}}),
       "server_name host_name has an empty label or a trailing dot"},
      {withExts({{0, u16(8) + std::string(1, '\0') + u16(5) + std::string("a\0.bc", 5)}}),
       "server_name host_name has a byte that is not a host name character"},
      {withExts({{0, u16(9) + std::string(1, '\0') + u16(4) + "a.bc"}}),
       "server_name list length does not match its extension"},
      {withExts({{16, u16(3) + std::string(1, '\0') + "ab"}}),
       "ALPN protocol name is empty or overruns its list"},
      {withExts({{16, u16(0)}}), "ALPN list length does not match its extension"},
      {withExts({{43, std::string("\x03\x03\x04\x03", 4)}}),
       "supported_versions list has a bad length"},
      {withExts({{41, "psk"}, {0, u16(sniOk.size()) + sniOk}}),
       "pre_shared_key is not the last extension"},
  };
  for (const auto& [bytes, reason] : rows) {
    CAPTURE(reason);
    const HelloOutcome o = readClientHello(bytes);
    CHECK(o.status == HelloStatus::kMalformed);
    CHECK(o.reason == reason);
    CHECK(o.errorOffset < bytes.size());
  }
  Builder oldVersion;
  oldVersion.version = u16(0x0200);
  CHECK(readClientHello(oldVersion.records()).reason == "ClientHello legacy_version is not 3.x");
  Builder longSession;
  longSession.sessionId = std::string(1, char(33)) + std::string(33, 'S');
  CHECK(readClientHello(longSession.records()).reason == "legacy_session_id has a bad length");
  Builder oddSuites;
  oddSuites.suites = u16(3) + "abc";
  CHECK(readClientHello(oddSuites.records()).reason == "cipher_suites has a bad length");
  Builder noCompression;
  noCompression.compression = std::string(1, '\0');
  CHECK(readClientHello(noCompression.records()).reason ==
        "legacy_compression_methods has a bad length");
  CHECK(readClientHello(handshake).status == HelloStatus::kClientHello);
}

TEST_CASE("a truncated capture is a prefix: need more, never an answer") {
  const std::string bytes = fixture("malformed_truncated.bin");
  CHECK(readClientHello(bytes).status == HelloStatus::kNeedMore);
  const HelloOutcome bad = readClientHello(fixture("malformed_ext_length.bin"));
  CHECK(bad.status == HelloStatus::kMalformed);
  CHECK(bad.reason == "extensions length does not match the ClientHello");
}

TEST_CASE("the reader keeps its answer and every byte once the answer is final") {
  ClientHelloReader reader;
  CHECK(reader.feed("GE").status == HelloStatus::kNotTls);
  CHECK(reader.feed("T / HTTP/1.1\r\n").status == HelloStatus::kNotTls);
  CHECK(reader.buffered() == "GET / HTTP/1.1\r\n");
}
