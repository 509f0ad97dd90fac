#include "daemon/net/large_read.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace portcullis::net {

size_t readMore(bufferevent* bev, size_t limit) {
  evbuffer* in = bufferevent_get_input(bev);
  const evutil_socket_t fd = bufferevent_getfd(bev);
  // A TLS bufferevent's socket carries records only OpenSSL may read.
  if (fd < 0 || bufferevent_openssl_get_ssl(bev) != nullptr) return 0;
  static constexpr size_t kMaxPerRead = 256 * 1024;
  // A socket bufferevent keeps its input's end frozen outside its own read
  // (so that only it appends); thaw it for our reads, as it does for its own.
  evbuffer_unfreeze(in, 0);
  size_t total = 0;
  // Bounded: each pass either fills toward `limit` or ends the loop.
  while (evbuffer_get_length(in) < limit) {
    const size_t want = std::min(limit - evbuffer_get_length(in), kMaxPerRead);
    evbuffer_iovec vec[2];
    const int nvec = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(want), vec, 2);
    if (nvec <= 0) break;
    iovec iov[2];
    size_t offered = 0;
    for (int i = 0; i < nvec; ++i) {
      iov[i].iov_base = vec[i].iov_base;
      iov[i].iov_len = std::min(vec[i].iov_len, want - offered);
      offered += iov[i].iov_len;
    }
    ssize_t got;
    do {
      got = ::readv(fd, iov, nvec);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {  // would block, EOF or error: libevent's next read sees it
      evbuffer_commit_space(in, vec, 0);
      break;
    }
    auto left = static_cast<size_t>(got);
    int used = 0;
    for (; used < nvec && left > 0; ++used) {
      vec[used].iov_len = std::min(iov[used].iov_len, left);
      left -= vec[used].iov_len;
    }
    evbuffer_commit_space(in, vec, used);
    total += static_cast<size_t>(got);
    if (static_cast<size_t>(got) < offered) break;  // the socket is drained
  }
  evbuffer_freeze(in, 0);
  return total;
}

}  // namespace portcullis::net
