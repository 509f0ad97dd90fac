#include "daemon/net/listen_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::net {

Result<UniqueFd> openListenSocket(const SocketAddress& address, int backlog) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return makeError(std::string("SO_REUSEPORT: ") + std::strerror(errno));
  }
  if (address.family() == AF_INET6) {
    // An IPv6 listener serves IPv6 only; IPv4 needs its own listen entry.
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), address.get(), address.length) != 0) {
    return makeError("cannot listen on " + address.toString() + ": " + std::strerror(errno));
  }
  if (::listen(fd.get(), backlog) != 0) {
    return makeError("listen on " + address.toString() + ": " + std::strerror(errno));
  }
  return fd;
}

Result<SocketAddress> boundAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return makeError(std::string("getsockname: ") + std::strerror(errno));
  }
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace portcullis::net
