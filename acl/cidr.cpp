#include "acl/cidr.h"

#include <charconv>

namespace portcullis::acl {

namespace {
uint64_t load64(const std::array<uint8_t, 16>& b, size_t off) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | b[off + i];
  return v;
}
// Mask with the top `bits` of 64 set (bits 0..64).
uint64_t topMask(unsigned bits) {
  if (bits == 0) return 0;
  if (bits >= 64) return ~uint64_t{0};
  return ~uint64_t{0} << (64 - bits);
}
}  // namespace

U128 U128::fromAddress(const IpAddress& a) {
  return U128{load64(a.bytes(), 0), load64(a.bytes(), 8)};
}

IpAddress U128::toAddress() const {
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  return IpAddress::fromBytes(b);
}

U128 U128::next() const {
  if (isMax()) return *this;
  U128 r = *this;
  if (++r.lo == 0) ++r.hi;
  return r;
}

U128 Cidr::first() const {
  U128 v = U128::fromAddress(base);
  unsigned p = prefix;
  v.hi &= topMask(p >= 64 ? 64 : p);
  v.lo &= topMask(p > 64 ? p - 64 : 0);
  return v;
}

U128 Cidr::last() const {
  U128 v = first();
  unsigned p = prefix;
  v.hi |= ~topMask(p >= 64 ? 64 : p);
  v.lo |= ~topMask(p > 64 ? p - 64 : 0);
  return v;
}

bool Cidr::contains(const IpAddress& a) const {
  U128 v = U128::fromAddress(a);
  return first() <= v && v <= last();
}

bool Cidr::covers(const Cidr& other) const {
  return first() <= other.first() && other.last() <= last();
}

std::string Cidr::toString() const {
  return base.toString() + "/" + std::to_string(writtenPrefix());
}

CidrParse parseCidr(std::string_view text) {
  CidrParse out;
  std::string_view addrText = text;
  std::optional<unsigned> written;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addrText = text.substr(0, slash);
    std::string_view len = text.substr(slash + 1);
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
    if (len.empty() || len.size() > 3 || ec != std::errc() || ptr != len.data() + len.size()) {
      out.error = "the prefix length after '/' must be a number";
      return out;
    }
    written = n;
  }
  auto addr = IpAddress::parse(addrText);
  if (!addr) {
    out.error = "'" + std::string(addrText) + "' is not an IPv4 or IPv6 address";
    return out;
  }
  // An IPv6 text form of a v4-mapped address ("::ffff:10.0.0.0/104") is a v6
  // block even though it covers v4 space: its prefix is counted in v6 bits.
  bool v4 = addr->isV4() && addrText.find(':') == std::string_view::npos;
  unsigned maxLen = v4 ? 32 : 128;
  unsigned len = written.value_or(maxLen);
  if (len > maxLen) {
    out.error = "prefix length /" + std::to_string(len) + " is longer than " +
                std::to_string(maxLen) + " bits";
    return out;
  }
  Cidr c{*addr, v4 ? len + 96 : len, v4};
  U128 first = c.first();
  out.hostBitsSet = first != U128::fromAddress(*addr);
  c.base = first.toAddress();
  out.cidr = c;
  return out;
}

}  // namespace portcullis::acl
