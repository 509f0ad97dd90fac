#pragma once
// The admin listener's address as written in the config and on the
// `portcullis status` command line: "127.0.0.1:3129", "[::1]:3129" or
// "unix:/run/portcullis/admin.sock". Host names are not accepted: the admin
// address is resolved by nobody.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "daemon/base/result.h"

namespace portcullis::admin {

struct AdminAddress {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;   ///< IP literal, no brackets (kTcp)
  uint16_t port = 0;  ///< 0 = any free port (tests)
  std::string path;   ///< filesystem path (kUnix)

  /// Parses the forms above; the error names what is wrong.
  static Result<AdminAddress> parse(const std::string& text);

  /// Fills `ss` for bind/connect; returns the length (0 if it does not fit).
  socklen_t toSockaddr(sockaddr_storage& ss) const;

  /// Back to text: "127.0.0.1:3129", "[::1]:3129", "unix:/path".
  std::string toString() const;
};

}  // namespace portcullis::admin
