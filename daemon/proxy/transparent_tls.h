#pragma once
// What transparent mode needs from a ClientHello: the server name it asks
// for. A small seam over the pure ClientHello reader (daemon/tls/), so the
// connection code does not depend on the reader's full interface.

#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::proxy {

struct ServerNamePeek {
  enum class Status { kNeedMore, kDone, kNotTls };
  Status status = Status::kNeedMore;
  std::string serverName;  ///< kDone: the SNI host name, lower-case; empty = no SNI sent
};

/// The most bytes of a ClientHello waited for: the reader accepts a message
/// of up to 16 KiB, here with room for the headers of the records it may be
/// cut into. More without an answer is not TLS to us.
inline constexpr size_t kMaxClientHelloBytes = 20 * 1024;

/// Reads the first bytes a client sent. Pure.
ServerNamePeek peekServerName(std::string_view bytes);

}  // namespace portcullis::proxy
