#include "daemon/admin/status_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "daemon/base/unique_handle.h"

namespace portcullis::admin {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxReply = 32u << 20;

// Waits for `events` on fd until the deadline; false on timeout or error.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

Result<UniqueFd> connectTo(const AdminAddress& addr, Clock::time_point deadline) {
  sockaddr_storage ss{};
  const socklen_t len = addr.toSockaddr(ss);
  if (len == 0) return makeError("unusable address");
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return makeError(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return makeError(std::strerror(errno));
    if (!waitFor(fd.get(), POLLOUT, deadline)) return makeError("connect timed out");
    int soErr = 0;
    socklen_t soLen = sizeof soErr;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soErr, &soLen);
    if (soErr != 0) return makeError(std::strerror(soErr));
  }
  return fd;
}

Result<HttpReply> parseReply(const std::string& raw) {
  const auto headEnd = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || headEnd == std::string::npos || raw.size() < 12) {
    return makeError("malformed HTTP response");
  }
  HttpReply r;
  r.status = std::atoi(raw.c_str() + 9);
  size_t pos = raw.find("\r\n") + 2;
  while (pos < headEnd) {
    const auto eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto v = line.find_first_not_of(" \t", colon + 1);
      r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    pos = eol + 2;
  }
  r.body = raw.substr(headEnd + 4);
  return r;
}

}  // namespace

Result<HttpReply> httpExchange(const AdminAddress& addr, const std::string& request,
                               std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto fd = connectTo(addr, deadline);
  if (!fd) return fd.error();
  size_t off = 0;
  while (off < request.size()) {
    const ssize_t n = ::send(fd->get(), request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd->get(), POLLOUT, deadline)) return makeError("send timed out");
    } else {
      return makeError(std::string("send: ") + std::strerror(errno));
    }
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      if (raw.size() > kMaxReply) return makeError("response too large");
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(fd->get(), POLLIN, deadline)) return makeError("read timed out");
    } else {
      return makeError(std::string("recv: ") + std::strerror(errno));
    }
  }
  return parseReply(raw);
}

Result<HttpReply> httpGet(const AdminAddress& addr, const std::string& target,
                          std::chrono::milliseconds timeout) {
  const std::string host = addr.kind == AdminAddress::Kind::kUnix ? "localhost" : addr.toString();
  return httpExchange(addr, "GET " + target + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n", timeout);
}

namespace {

// Fetches one resource and reports failures the way the CLI should.
Result<HttpReply> fetch(const AdminAddress& addr, const std::string& target, const StatusOptions& o,
                        std::ostream& err) {
  auto r = httpGet(addr, target, o.timeout);
  if (!r) {
    err << "portcullis status: cannot reach the admin listener at " << addr.toString() << ": "
        << r.error().message << "\n";
    return r;
  }
  if (r->status != 200) {
    err << "portcullis status: " << addr.toString() << target << " answered " << r->status << ": "
        << r->body;
    return makeError("HTTP " + std::to_string(r->status));
  }
  return r;
}

// Drops all but the last `keep` lines of `text` (which ends with '\n').
std::string lastLines(const std::string& text, size_t keep) {
  if (keep == 0) return {};
  size_t count = 0;
  for (size_t i = text.size(); i > 0; --i) {
    if (text[i - 1] == '\n' && i != text.size() && ++count == keep) return text.substr(i);
  }
  return text;
}

int follow(const AdminAddress& addr, const StatusOptions& o, std::ostream& out, std::ostream& err) {
  const std::string format = o.json ? "jsonl" : "lines";
  uint64_t seq = 0;
  for (int poll = 0; o.maxPolls < 0 || poll < o.maxPolls; ++poll) {
    if (o.stop != nullptr && o.stop->load()) break;
    if (poll > 0) std::this_thread::sleep_for(o.pollInterval);
    auto r = fetch(addr, "/status?format=" + format + "&since=" + std::to_string(seq), o, err);
    if (!r) return 1;
    const auto it = r->headers.find("x-portcullis-seq");
    const uint64_t next =
        it == r->headers.end() ? seq : std::strtoull(it->second.c_str(), nullptr, 10);
    out << (poll == 0 ? lastLines(r->body, o.initialLines) : r->body) << std::flush;
    seq = next;  // a smaller number means the daemon restarted: start over
  }
  return 0;
}

}  // namespace

int runStatus(const std::string& adminAddress, const StatusOptions& options, std::ostream& out,
              std::ostream& err) {
  auto addr = AdminAddress::parse(adminAddress);
  if (!addr) {
    err << "portcullis status: " << addr.error().message << "\n";
    return 2;
  }
  if (options.follow) return follow(*addr, options, out, err);
  auto r = fetch(*addr, options.json ? "/status" : "/status?format=text", options, err);
  if (!r) return 1;
  out << r->body;
  if (options.json) out << "\n";
  return 0;
}

int runStatus(const std::string& adminAddress, bool follow, bool json, std::ostream& out,
              std::ostream& err) {
  StatusOptions o;
  o.follow = follow;
  o.json = json;
  return runStatus(adminAddress, o, out, err);
}

}  // namespace portcullis::admin
