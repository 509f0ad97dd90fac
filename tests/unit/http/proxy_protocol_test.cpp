// The PROXY protocol header (v1 text, v2 binary), every fixture fed whole,
// byte by byte (every prefix) and with the client's first bytes after it.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string>

#include "daemon/http/proxy_protocol.h"

namespace portcullis::http {
namespace {

using Status = ProxyParse::Status;

std::string v2(unsigned char verCmd, unsigned char family, std::string_view body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(verCmd);
  h += static_cast<char>(family);
  h += static_cast<char>(body.size() >> 8);
  h += static_cast<char>(body.size() & 0xff);
  return h + std::string(body);
}

std::string v2Tcp4(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport,
                   std::string_view tlvs = {}) {
  std::string body(12, '\0');
  inet_pton(AF_INET, std::string(src).c_str(), body.data());
  inet_pton(AF_INET, std::string(dst).c_str(), body.data() + 4);
  body[8] = static_cast<char>(sport >> 8), body[9] = static_cast<char>(sport & 0xff);
  body[10] = static_cast<char>(dport >> 8), body[11] = static_cast<char>(dport & 0xff);
  return v2(0x21, 0x11, body + std::string(tlvs));
}

std::string v2Tcp6(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport) {
  std::string body(36, '\0');
  inet_pton(AF_INET6, std::string(src).c_str(), body.data());
  inet_pton(AF_INET6, std::string(dst).c_str(), body.data() + 16);
  body[32] = static_cast<char>(sport >> 8), body[33] = static_cast<char>(sport & 0xff);
  body[34] = static_cast<char>(dport >> 8), body[35] = static_cast<char>(dport & 0xff);
  return v2(0x21, 0x21, body);
}

std::string text(const ProxyEndpoint& e) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(e.v6 ? AF_INET6 : AF_INET, e.bytes.data(), buf, sizeof buf);
  return std::string(buf) + " " + std::to_string(e.port);
}

/// Every prefix shorter than the header needs more; the whole header, alone
/// or followed by the client's bytes, gives the same answer.
ProxyParse dripFed(const std::string& header) {
  for (size_t n = 0; n < header.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    REQUIRE(parseProxyHeader(std::string_view(header).substr(0, n)).status == Status::kNeedMore);
  }
  ProxyParse whole = parseProxyHeader(header);
  ProxyParse followed = parseProxyHeader(header + "GET http://x/ HTTP/1.1\r\n\r\n");
  REQUIRE(whole.status == Status::kDone);
  REQUIRE(followed.status == Status::kDone);
  CHECK(whole.header.length == header.size());
  CHECK(followed.header.length == header.size());
  return whole;
}

/// Some prefix is refused, and no prefix is accepted.
std::string refusal(const std::string& bytes) {
  for (size_t n = 0; n <= bytes.size(); ++n) {
    ProxyParse p = parseProxyHeader(std::string_view(bytes).substr(0, n));
    REQUIRE(p.status != Status::kDone);
    if (p.status == Status::kInvalid) return p.error;
  }
  return {};
}

TEST_CASE("v1 TCP4, TCP6 and UNKNOWN") {
  ProxyParse p = dripFed("PROXY TCP4 192.0.2.7 198.51.100.1 56324 3128\r\n");
  CHECK(p.header.version == 1);
  CHECK(p.header.command == ProxyHeader::Command::kProxy);
  CHECK(text(p.header.source) == "192.0.2.7 56324");
  CHECK(text(p.header.destination) == "198.51.100.1 3128");

  p = dripFed("PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n");
  CHECK(text(p.header.source) == "2001:db8::7 65535");
  CHECK(text(p.header.destination) == "2001:db8::1 0");

  CHECK(dripFed("PROXY UNKNOWN\r\n").header.command == ProxyHeader::Command::kLocal);
  CHECK(dripFed("PROXY UNKNOWN ffff:f...f:ffff 1 2\r\n").header.command ==
        ProxyHeader::Command::kLocal);
}

TEST_CASE(
    "v2 PROXY over IPv4 and IPv6, TLVs skipped; LOCAL and UNSPEC keep the connection's addresses") {
  ProxyParse p = dripFed(v2Tcp4("192.0.2.7", "198.51.100.1", 56324, 3128));
  CHECK(p.header.version == 2);
  CHECK(p.header.command == ProxyHeader::Command::kProxy);
  CHECK(text(p.header.source) == "192.0.2.7 56324");
  CHECK(text(p.header.destination) == "198.51.100.1 3128");

  const std::string tlv(
      "\x04\x00\x03"
      "abc",
      6);  // PP2_TYPE_NOOP with 3 bytes
  CHECK(text(dripFed(v2Tcp4("10.0.0.1", "10.0.0.2", 1, 2, tlv)).header.source) == "10.0.0.1 1");

  p = dripFed(v2Tcp6("2001:db8::7", "2001:db8::1", 443, 3128));
  CHECK(text(p.header.source) == "2001:db8::7 443");

  CHECK(dripFed(v2(0x20, 0x00, "")).header.command == ProxyHeader::Command::kLocal);
  CHECK(dripFed(v2(0x20, 0x11, std::string(12, '\1'))).header.command ==
        ProxyHeader::Command::kLocal);
  CHECK(dripFed(v2(0x21, 0x00, "")).header.command == ProxyHeader::Command::kLocal);
}

TEST_CASE("malformed headers are refused, never half-accepted") {
  CHECK(refusal("GET http://example.org/ HTTP/1.1\r\n\r\n") ==
        "no PROXY protocol header where one is required");
  CHECK(refusal("PROXY TCP4 192.0.2.7 198.51.100.1 56324 3128\n").find("CRLF") !=
        std::string::npos);
  CHECK(refusal("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n").find("two ports") !=
        std::string::npos);
  CHECK(refusal("PROXY TCP4 192.0.2.7 198.51.100.1 56324 3128 9\r\n").find("two ports") !=
        std::string::npos);
  CHECK(refusal("PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n").find("IPv4") != std::string::npos);
  CHECK(refusal("PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n").find("IPv6") != std::string::npos);
  CHECK(refusal("PROXY TCP4 192.0.2.7 198.51.100.1 065 2\r\n").find("port") != std::string::npos);
  CHECK(refusal("PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n").find("port") != std::string::npos);
  CHECK(refusal("PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n") != "");
  CHECK(refusal("PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n").find("protocol") != std::string::npos);
  CHECK(refusal("PROXY TCP4 " + std::string(120, '1') + "\r\n").find("107") != std::string::npos);

  CHECK(refusal(v2(0x11, 0x11, std::string(12, '\0'))).find("version") != std::string::npos);
  CHECK(refusal(v2(0x22, 0x11, std::string(12, '\0'))).find("command") != std::string::npos);
  CHECK(refusal(v2(0x21, 0x12, std::string(12, '\0'))).find("TCP") != std::string::npos);  // UDP
  CHECK(refusal(v2(0x21, 0x31, std::string(216, '\0'))).find("TCP") !=
        std::string::npos);  // AF_UNIX
  CHECK(refusal(v2(0x21, 0x21, std::string(12, '\0'))).find("too short") != std::string::npos);
  CHECK(refusal(v2(0x21, 0x11, std::string(2000, '\0'))).find("1024") != std::string::npos);
}

}  // namespace
}  // namespace portcullis::http
