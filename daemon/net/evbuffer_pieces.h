#pragma once
// Reading an evbuffer's first bytes in place. The cache tees store the body
// the client is being sent: peeking at the chain's pieces avoids copying it.

#include <event2/buffer.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

namespace portcullis::net {

/// Calls `visit(std::string_view)` on the first `n` bytes of `buffer` (or all
/// of it if shorter), one contiguous piece at a time, without draining or
/// copying. Stops at the first `visit` that returns false. Returns true when
/// every piece was visited.
template <typename Visit>
bool forEachPeekedPiece(evbuffer* buffer, size_t n, Visit&& visit) {
  const auto length = static_cast<ev_ssize_t>(n);
  const int count = evbuffer_peek(buffer, length, nullptr, nullptr, 0);
  std::vector<evbuffer_iovec> pieces(static_cast<size_t>(std::max(count, 0)));
  evbuffer_peek(buffer, length, nullptr, pieces.data(), count);
  size_t left = n;
  for (const evbuffer_iovec& piece : pieces) {
    if (left == 0) break;
    const size_t take = std::min(left, piece.iov_len);
    if (!visit(std::string_view(static_cast<const char*>(piece.iov_base), take))) return false;
    left -= take;
  }
  return true;
}

}  // namespace portcullis::net
