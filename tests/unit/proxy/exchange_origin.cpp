#include "tests/unit/proxy/exchange_origin.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>

namespace portcullis::testing {

// ---------------------------------------------------------------- script

OriginScript OriginScript::respond(int status, std::string body,
                                   std::vector<std::pair<std::string, std::string>> fields) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\n";
  bool hasLength = false;
  for (const auto& [name, value] : fields) {
    head += name + ": " + value + "\r\n";
    if (strcasecmp(name.c_str(), "Content-Length") == 0 ||
        strcasecmp(name.c_str(), "Transfer-Encoding") == 0) {
      hasLength = true;
    }
  }
  if (!hasLength && status != 204 && status != 304) {
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  OriginScript s;
  s.write(head + "\r\n" + body);
  return s;
}

OriginScript& OriginScript::write(std::string bytes) {
  steps_.push_back(Step{Step::Kind::kWrite, std::move(bytes), {}});
  return *this;
}

OriginScript& OriginScript::wait(std::chrono::milliseconds d) {
  steps_.push_back(Step{Step::Kind::kWait, {}, d});
  return *this;
}

OriginScript& OriginScript::awaitRelease() {
  steps_.push_back(Step{Step::Kind::kAwaitRelease, {}, {}});
  return *this;
}

OriginScript& OriginScript::close() {
  steps_.push_back(Step{Step::Kind::kClose, {}, {}});
  return *this;
}

OriginScript& OriginScript::hold() {
  steps_.push_back(Step{Step::Kind::kHold, {}, {}});
  return *this;
}

// ---------------------------------------------------------------- server

/// One accepted connection: reading a request, or playing a script.
struct OriginServer::Conn {
  OriginServer* server = nullptr;
  net::BufferEventPtr bev;
  net::EventPtr timer;
  std::string path;                      ///< of the request being answered
  const OriginScript* script = nullptr;  ///< null: reading the next request
  size_t step = 0;
  bool waiting = false;  ///< in a kWait or kAwaitRelease step
  bool closing = false;  ///< close once the output has drained
  bool dead = false;
};

OriginServer::OriginServer(event_base* base) : base_(base) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = 0;
  listener_.reset(evconnlistener_new_bind(base, &OriginServer::onAccept, this,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                          reinterpret_cast<sockaddr*>(&sin), sizeof sin));
  if (!listener_) throw std::runtime_error("origin: cannot listen on 127.0.0.1");
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ::getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.sin_port);
}

OriginServer::~OriginServer() {
  listener_.reset();
  conns_.clear();
}

void OriginServer::on(const std::string& path, OriginScript script) {
  scripts_[path] = std::move(script);
}

void OriginServer::release(const std::string& path) {
  for (auto& c : conns_) {
    if (c->dead || c->script == nullptr || c->path != path || !c->waiting) continue;
    const auto& steps = c->script->steps();
    if (c->step < steps.size() && steps[c->step].kind == OriginScript::Step::Kind::kAwaitRelease) {
      c->waiting = false;
      ++c->step;
      advance(*c);
    }
  }
}

size_t OriginServer::requestsFor(const std::string& path) const {
  return static_cast<size_t>(std::count(paths_.begin(), paths_.end(), path));
}

void OriginServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int,
                            void* arg) noexcept {
  auto* self = static_cast<OriginServer*>(arg);
  try {
    // Finished connections are freed here, outside their own callbacks.
    self->conns_.remove_if([](const std::unique_ptr<Conn>& c) { return c->dead; });
    auto c = std::make_unique<Conn>();
    c->server = self;
    c->bev.reset(bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE));
    c->timer.reset(evtimer_new(self->base_, &OriginServer::onTimer, c.get()));
    bufferevent_setcb(c->bev.get(), &OriginServer::onRead, &OriginServer::onWrite,
                      &OriginServer::onEvent, c.get());
    bufferevent_enable(c->bev.get(), EV_READ | EV_WRITE);
    ++self->connections_;
    self->conns_.push_back(std::move(c));
  } catch (...) {
    evutil_closesocket(fd);
  }
}

namespace {
/// The length of one whole request at the start of `data`, or 0 when it
/// has not all arrived. Enough HTTP for requests the proxy sends.
size_t requestLength(std::string_view data) {
  const size_t headEnd = data.find("\r\n\r\n");
  if (headEnd == std::string_view::npos) return 0;
  const std::string_view head = data.substr(0, headEnd + 2);
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const size_t bodyStart = headEnd + 4;
  if (lower.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    const size_t end = data.find("\r\n0\r\n\r\n", bodyStart - 2);
    return end == std::string_view::npos ? 0 : end + 7;
  }
  const size_t cl = lower.find("\r\ncontent-length:");
  if (cl == std::string::npos) return bodyStart;
  const size_t length = std::stoul(lower.substr(cl + 17));
  return data.size() >= bodyStart + length ? bodyStart + length : 0;
}

std::string pathOf(std::string_view request) {
  const size_t sp1 = request.find(' ');
  const size_t sp2 = request.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return {};
  return std::string(request.substr(sp1 + 1, sp2 - sp1 - 1));
}

const OriginScript& notFound() {
  static const OriginScript script = OriginScript::respond(404, "no script for this path\n");
  return script;
}
}  // namespace

void OriginServer::onRead(bufferevent*, void* arg) noexcept {
  auto* c = static_cast<Conn*>(arg);
  try {
    c->server->readRequests(*c);
  } catch (...) {
    c->server->finish(*c);
  }
}

void OriginServer::readRequests(Conn& c) {
  evbuffer* in = bufferevent_get_input(c.bev.get());
  while (!c.dead && c.script == nullptr) {
    const size_t len = evbuffer_get_length(in);
    if (len == 0) return;
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
    const size_t n = requestLength(std::string_view(data, len));
    if (n == 0) return;
    requests_.emplace_back(data, n);
    c.path = pathOf(requests_.back());
    paths_.push_back(c.path);
    evbuffer_drain(in, n);
    auto it = scripts_.find(c.path);
    c.script = it != scripts_.end() ? &it->second : &notFound();
    c.step = 0;
    advance(c);
  }
}

void OriginServer::advance(Conn& c) {
  using Kind = OriginScript::Step::Kind;
  while (!c.dead && c.script != nullptr && !c.waiting) {
    const auto& steps = c.script->steps();
    if (c.step >= steps.size()) {
      c.script = nullptr;  // answered: the next request on this connection
      readRequests(c);
      return;
    }
    const auto& s = steps[c.step];
    switch (s.kind) {
      case Kind::kWrite:
        bufferevent_write(c.bev.get(), s.bytes.data(), s.bytes.size());
        ++c.step;
        break;
      case Kind::kWait: {
        c.waiting = true;
        timeval tv{static_cast<time_t>(s.wait.count() / 1000),
                   static_cast<suseconds_t>((s.wait.count() % 1000) * 1000)};
        evtimer_add(c.timer.get(), &tv);
        return;
      }
      case Kind::kAwaitRelease:
        c.waiting = true;
        return;
      case Kind::kClose:
        c.closing = true;
        c.waiting = true;
        if (evbuffer_get_length(bufferevent_get_output(c.bev.get())) == 0) finish(c);
        return;
      case Kind::kHold:
        c.waiting = true;
        return;
    }
  }
}

void OriginServer::onTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* c = static_cast<Conn*>(arg);
  try {
    c->waiting = false;
    ++c->step;
    c->server->advance(*c);
  } catch (...) {
    c->server->finish(*c);
  }
}

void OriginServer::onWrite(bufferevent* bev, void* arg) noexcept {
  auto* c = static_cast<Conn*>(arg);
  if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) c->server->finish(*c);
}

void OriginServer::onEvent(bufferevent*, short, void* arg) noexcept {
  auto* c = static_cast<Conn*>(arg);
  c->server->finish(*c);  // EOF or error: this connection is over
}

void OriginServer::finish(Conn& c) {
  if (c.dead) return;
  c.dead = true;
  if (c.timer) evtimer_del(c.timer.get());
  // Freeing a bufferevent inside its own callback is safe (libevent holds
  // a reference while it runs one); the Conn itself goes later (onAccept).
  c.bev.reset();
}

// ---------------------------------------------------------------- ports

namespace {
uint16_t boundPort(int fd) {
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  return ntohs(bound.sin_port);
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  return sin;
}
}  // namespace

RefusingPort::RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in sin = loopback(0);
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    throw std::runtime_error("refusing port: bind failed");
  }
  port_ = boundPort(fd_.get());
}

BlackholePort::BlackholePort() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in sin = loopback(0);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      ::listen(listener_.get(), 0) != 0) {
    throw std::runtime_error("blackhole port: listen failed");
  }
  port_ = boundPort(listener_.get());
  // Blocking connect on loopback: completes at once into the one queue slot.
  filler_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in to = loopback(port_);
  if (::connect(filler_.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    throw std::runtime_error("blackhole port: filler connect failed");
  }
}

}  // namespace portcullis::testing
