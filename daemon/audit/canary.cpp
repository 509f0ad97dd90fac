#include "daemon/audit/canary.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace portcullis::audit {
namespace {

constexpr size_t kMaxSessionBytes = 64 * 1024;  // a canary never needs more
constexpr size_t kMaxSessions = 64;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// Content-Length of an HTTP head (0 when absent or unreadable).
size_t contentLength(std::string_view head) {
  const std::string h = upper(head);
  const size_t at = h.find("\nCONTENT-LENGTH:");
  if (at == std::string::npos) return 0;
  size_t value = 0;
  for (size_t i = at + 16;
       i < h.size() && (h[i] == ' ' || std::isdigit(static_cast<unsigned char>(h[i]))); ++i) {
    if (h[i] != ' ')
      value = std::min<size_t>(value * 10 + static_cast<size_t>(h[i] - '0'), kMaxSessionBytes);
  }
  return value;
}

}  // namespace

Result<std::unique_ptr<Canary>> Canary::start(CanaryStyle style, std::string token) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return makeError(std::string("canary socket: ") + std::strerror(errno));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only, never a public address
  sin.sin_port = 0;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      ::listen(listener.get(), 16) != 0) {
    return makeError(std::string("canary bind: ") + std::strerror(errno));
  }
  socklen_t len = sizeof sin;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sin), &len);
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return makeError(std::string("canary pipe: ") + std::strerror(errno));
  }
  return std::unique_ptr<Canary>(new Canary(style, std::move(token), std::move(listener),
                                            ntohs(sin.sin_port), UniqueFd(pipeFds[0]),
                                            UniqueFd(pipeFds[1])));
}

Canary::Canary(CanaryStyle style, std::string token, UniqueFd listener, uint16_t port,
               UniqueFd wakeRead, UniqueFd wakeWrite)
    : style_(style),
      token_(std::move(token)),
      listener_(std::move(listener)),
      port_(port),
      wakeRead_(std::move(wakeRead)),
      wakeWrite_(std::move(wakeWrite)),
      thread_([this] { run(); }) {}

Canary::~Canary() {
  const char stop = 's';
  // The pipe has room for a byte; the thread exits on any readable byte.
  [[maybe_unused]] ssize_t n = ::write(wakeWrite_.get(), &stop, 1);
  thread_.join();
}

void Canary::reset() {
  std::lock_guard lock(mutex_);
  ++window_;
  openInWindow_ = 0;
  seen_ = {};
  allBytes_.clear();
}

CanaryObservation Canary::settle(Deadline deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [this] { return openInWindow_ == 0; });
  CanaryObservation out = seen_;
  const std::string_view all = allBytes_;
  out.firstLine = std::string(all.substr(0, std::min(all.find_first_of("\r\n"), size_t{200})));
  out.sawMailFrom =
      style_ == CanaryStyle::kSmtp && upper(all).find("MAIL FROM") != std::string::npos;
  return out;
}

void Canary::run() {
  std::vector<pollfd> fds;
  while (true) {
    fds.clear();
    fds.push_back({wakeRead_.get(), POLLIN, 0});
    fds.push_back({listener_.get(), POLLIN, 0});
    for (const auto& s : sessions_) {
      fds.push_back({s->fd.get(), static_cast<short>(POLLIN | (s->out.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) return;  // stop requested
    if (fds[1].revents & POLLIN) accept();
    // Sessions accepted just now are not in `fds`; they are polled next turn.
    const size_t polled = fds.size() - 2;
    std::vector<bool> over(sessions_.size(), false);
    for (size_t i = 0; i < polled; ++i) {
      const short ev = fds[i + 2].revents;
      Session& s = *sessions_[i];
      if ((ev & (POLLIN | POLLHUP | POLLERR)) && !onReadable(s)) over[i] = true;
      if (!over[i] && (ev & POLLOUT) && !onWritable(s)) over[i] = true;
    }
    for (size_t i = sessions_.size(); i-- > 0;) {
      if (!over[i]) continue;
      closed(*sessions_[i]);
      sessions_.erase(sessions_.begin() + static_cast<ptrdiff_t>(i));
    }
  }
}

void Canary::accept() {
  while (true) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) return;
    if (sessions_.size() >= kMaxSessions) continue;  // closes it: a canary is no server farm
    auto s = std::make_unique<Session>();
    s->fd = std::move(fd);
    {
      std::lock_guard lock(mutex_);
      s->window = window_;
      ++openInWindow_;
      ++seen_.connections;
    }
    if (style_ == CanaryStyle::kSmtp) {
      // RFC 5321 §4.2: the server speaks first with a 220 greeting.
      s->out = "220 canary ESMTP\r\n";
      onWritable(*s);
    }
    sessions_.push_back(std::move(s));
  }
}

bool Canary::onReadable(Session& s) {
  char chunk[4096];
  while (true) {
    const ssize_t n = ::recv(s.fd.get(), chunk, sizeof chunk, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    record(s, std::string_view(chunk, static_cast<size_t>(n)));
    if (s.in.size() + static_cast<size_t>(n) > kMaxSessionBytes) return false;
    s.in.append(chunk, static_cast<size_t>(n));
  }
  onLines(s);
  if (s.closeAfterWrite && s.out.empty()) return false;
  return onWritable(s);
}

bool Canary::onWritable(Session& s) {
  while (!s.out.empty()) {
    const ssize_t n = ::send(s.fd.get(), s.out.data(), s.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      s.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return !s.closeAfterWrite;
}

void Canary::onLines(Session& s) {
  if (style_ == CanaryStyle::kHttp) {
    if (s.closeAfterWrite) return;
    const size_t headEnd = s.in.find("\r\n\r\n");
    if (headEnd == std::string::npos) return;
    if (s.in.size() < headEnd + 4 + contentLength(s.in.substr(0, headEnd + 2))) return;
    const std::string body = "portcullis audit canary " + token_ + "\n";
    s.out += "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    s.closeAfterWrite = true;
    return;
  }
  size_t eol;
  while (!s.closeAfterWrite && (eol = s.in.find('\n')) != std::string::npos) {
    std::string line = s.in.substr(0, eol);
    s.in.erase(0, eol + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string cmd = upper(line);
    if (style_ == CanaryStyle::kLine) {
      if (line.empty() || startsWith(cmd, "QUIT")) s.closeAfterWrite = true;
      continue;
    }
    if (s.inData) {
      if (line == ".") {
        s.inData = false;
        s.out += "250 queued\r\n";
      }
    } else if (startsWith(cmd, "QUIT")) {
      s.out += "221 bye\r\n";
      s.closeAfterWrite = true;
    } else if (startsWith(cmd, "DATA")) {
      s.out += "354 end with .\r\n";
      s.inData = true;
    } else if (!line.empty()) {
      s.out += "250 ok\r\n";
    }
  }
}

void Canary::record(const Session& s, std::string_view bytes) {
  std::lock_guard lock(mutex_);
  if (s.window != window_) return;  // a straggler from an earlier probe
  seen_.bytes += bytes.size();
  if (allBytes_.size() < kMaxSessionBytes) {
    allBytes_.append(bytes.substr(0, kMaxSessionBytes - allBytes_.size()));
  }
}

void Canary::closed(const Session& s) {
  std::lock_guard lock(mutex_);
  if (s.window == window_ && openInWindow_ > 0) --openInWindow_;
  changed_.notify_all();
}

}  // namespace portcullis::audit
