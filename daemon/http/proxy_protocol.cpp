#include "daemon/http/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace portcullis::http {

namespace {

using Status = ProxyParse::Status;

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1MaxLine = 107;  // spec §2.1: "PROXY UNKNOWN" + two v6 + ports + CRLF
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr size_t kV2Fixed = 16;  // signature, version/command, family, length

ProxyParse invalid(std::string error) {
  ProxyParse p;
  p.status = Status::kInvalid;
  p.error = std::move(error);
  return p;
}

/// True when `bytes` and `prefix` agree on their common length.
bool agreesWith(std::string_view bytes, std::string_view prefix) {
  const size_t n = std::min(bytes.size(), prefix.size());
  return bytes.substr(0, n) == prefix.substr(0, n);
}

/// A decimal port without sign or leading zeros (spec §2.1), 0..65535.
bool parsePort(std::string_view text, uint16_t& out) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool parseAddress(std::string_view text, bool v6, ProxyEndpoint& out) {
  if (text.empty() || text.size() > 45) return false;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out.v6 = v6;
  return inet_pton(v6 ? AF_INET6 : AF_INET, buf, out.bytes.data()) == 1;
}

/// Splits on single spaces; false when there are not exactly `n` fields.
template <size_t N>
bool splitFields(std::string_view line, std::array<std::string_view, N>& fields) {
  size_t i = 0;
  for (; i < N; ++i) {
    const size_t sp = line.find(' ');
    fields[i] = line.substr(0, sp);
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  return i == N - 1;
}

ProxyParse parseV1(std::string_view bytes) {
  const size_t lf = bytes.substr(0, kV1MaxLine).find('\n');
  if (lf == std::string_view::npos) {
    if (bytes.size() >= kV1MaxLine) return invalid("PROXY v1 line longer than 107 bytes");
    return {};
  }
  if (lf == 0 || bytes[lf - 1] != '\r') return invalid("PROXY v1 line not ended by CRLF");
  std::string_view line = bytes.substr(kV1Prefix.size(), lf - 1 - kV1Prefix.size());
  ProxyParse p;
  p.status = Status::kDone;
  p.header.version = 1;
  p.header.length = lf + 1;
  // "UNKNOWN" may be followed by anything; the receiver ignores it (§2.1).
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) return p;
  std::array<std::string_view, 5> f;
  if (!splitFields(line, f))
    return invalid("PROXY v1 line needs protocol, two addresses and two ports");
  if (f[0] != "TCP4" && f[0] != "TCP6")
    return invalid("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  const bool v6 = f[0] == "TCP6";
  ProxyHeader& h = p.header;
  if (!parseAddress(f[1], v6, h.source) || !parseAddress(f[2], v6, h.destination)) {
    return invalid("PROXY v1 address is not a valid " + std::string(v6 ? "IPv6" : "IPv4") +
                   " address");
  }
  if (!parsePort(f[3], h.source.port) || !parsePort(f[4], h.destination.port)) {
    return invalid("PROXY v1 port is not a number from 0 to 65535");
  }
  h.command = ProxyHeader::Command::kProxy;
  return p;
}

uint16_t be16(const unsigned char* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

ProxyParse parseV2(std::string_view bytes) {
  if (bytes.size() < kV2Fixed) return {};
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  if ((u[12] >> 4) != 2) return invalid("PROXY v2 header of another version");
  const unsigned command = u[12] & 0x0f;
  if (command > 1) return invalid("PROXY v2 command is neither LOCAL nor PROXY");
  const size_t length = be16(u + 14);
  if (kV2Fixed + length > kMaxProxyHeader) return invalid("PROXY v2 header longer than 1024 bytes");
  if (bytes.size() < kV2Fixed + length) return {};
  ProxyParse p;
  p.status = Status::kDone;
  p.header.version = 2;
  p.header.length = kV2Fixed + length;
  if (command == 0) return p;  // LOCAL: addresses (if any) are to be ignored (§2.2)
  const unsigned family = u[13] >> 4, transport = u[13] & 0x0f;
  if (family == 0) return p;  // AF_UNSPEC: as LOCAL
  if (transport != 1 || (family != 1 && family != 2)) {
    return invalid("PROXY v2 carries neither TCP over IPv4 nor TCP over IPv6");
  }
  const bool v6 = family == 2;
  const size_t size = v6 ? 16 : 4;
  if (length < 2 * size + 4) return invalid("PROXY v2 address block too short");
  ProxyHeader& h = p.header;
  h.source.v6 = h.destination.v6 = v6;
  std::memcpy(h.source.bytes.data(), u + kV2Fixed, size);
  std::memcpy(h.destination.bytes.data(), u + kV2Fixed + size, size);
  h.source.port = be16(u + kV2Fixed + 2 * size);
  h.destination.port = be16(u + kV2Fixed + 2 * size + 2);
  h.command = ProxyHeader::Command::kProxy;
  return p;  // TLVs after the addresses are skipped
}

}  // namespace

ProxyParse parseProxyHeader(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (agreesWith(bytes, kV1Prefix))
    return bytes.size() < kV1Prefix.size() ? ProxyParse{} : parseV1(bytes);
  if (agreesWith(bytes, kV2Signature)) {
    return bytes.size() < kV2Signature.size() ? ProxyParse{} : parseV2(bytes);
  }
  return invalid("no PROXY protocol header where one is required");
}

}  // namespace portcullis::http
