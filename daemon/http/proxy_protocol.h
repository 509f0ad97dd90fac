#pragma once
// The PROXY protocol header a load balancer (HAProxy, AWS NLB, nginx
// stream) puts before the client's bytes to say who the client is:
// version 1 (one text line) and version 2 (binary), per HAProxy's
// "The PROXY protocol" specification (doc/proxy-protocol.txt, 2020/03/05).
// Pure: no I/O. Stateless: call again with every byte received so far until
// the answer is not kNeedMore; at most kMaxProxyHeader bytes are needed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::http {

/// Longest header accepted: a v1 line is at most 107 bytes; v2 headers with
/// TLVs beyond this are refused (balancers send a few dozen bytes of TLVs).
inline constexpr size_t kMaxProxyHeader = 1024;

/// One endpoint the header carries. IPv4 is kept as 4 bytes in `bytes[0..3]`.
struct ProxyEndpoint {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  uint16_t port = 0;
};

struct ProxyHeader {
  /// kProxy: the connection was relayed for `source`. kLocal: the balancer
  /// speaks for itself (v2 LOCAL, e.g. health checks; v1 "UNKNOWN"): keep
  /// the connection's own addresses.
  enum class Command { kLocal, kProxy };
  Command command = Command::kLocal;
  int version = 0;  ///< 1 or 2
  ProxyEndpoint source;
  ProxyEndpoint destination;
  size_t length = 0;  ///< bytes the header took; the client's bytes follow
};

struct ProxyParse {
  enum class Status { kNeedMore, kDone, kInvalid };
  Status status = Status::kNeedMore;
  ProxyHeader header;  ///< when kDone
  std::string error;   ///< when kInvalid: one sentence for the event log
};

/// Parses the header at the start of `bytes`.
ProxyParse parseProxyHeader(std::string_view bytes);

}  // namespace portcullis::http
