#include "daemon/proxy/worker.h"

#include <event2/thread.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>

#include "daemon/net/original_destination.h"
#include "daemon/proxy/background_fill.h"
#include "daemon/proxy/client_connection.h"
#include "daemon/proxy/server.h"

namespace portcullis::proxy {

namespace {
// A refusal sent straight from accept: the client gets an answer, not a hang.
void refuseAtAccept(int fd, std::string_view why) {
  std::string response =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
      "Proxy-Status: portcullis; error=proxy_configuration_error; details=\"" +
      std::string(why) + "\"\r\nContent-Length: " + std::to_string(why.size() + 1) + "\r\n\r\n" +
      std::string(why) + "\n";
  // Best effort on a fresh non-blocking socket: the kernel buffer takes it.
  [[maybe_unused]] auto n = ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
  // Half-close and drain what the client already sent, so that close() ends
  // with a FIN rather than a reset that could discard our answer.
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  ::close(fd);
}
}  // namespace

Worker::Worker(Server& server, int index, std::vector<ListenSocket> listenFds)
    : server_(server), index_(index), listenFds_(std::move(listenFds)) {
  base_.reset(event_base_new());
  auto config = server.config();
  resolver_ = std::make_unique<net::Resolver>(base_.get(), config->dns);
  pool_ = std::make_unique<UpstreamPool>(base_.get(), config->server.upstreamIdleTimeout, 64);
  mailbox_ = VerifyMailbox::create(base_.get());
  buildContext();
  policyWatch_ = std::make_unique<PolicyWatch>(
      base_.get(), clock_,
      [this](const acl::Policy& policy, SystemTime now) { recheckSessions(policy, now); });
  policyWatch_->policyChanged(config, false);
  shutdownEvent_.reset(event_new(base_.get(), -1, 0, &Worker::onShutdownEvent, this));
  settingsEvent_.reset(event_new(base_.get(), -1, 0, &Worker::onSettingsEvent, this));
  reapEvent_.reset(event_new(base_.get(), -1, 0, &Worker::onReap, this));
  graceTimer_.reset(evtimer_new(base_.get(), &Worker::onGraceExpired, this));
  lagProbe_.reset(evtimer_new(base_.get(), &Worker::onLagProbe, this));
  if (index_ == 0) {
    parentProber_ = std::make_unique<ParentProber>(base_.get(), server_.parents(), resolver_.get());
  }
  timeval second{1, 0};
  lagProbeDue_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  evtimer_add(lagProbe_.get(), &second);
  for (auto& socket : listenFds_) {
    const bool tls = socket.kind == ListenKind::kTls;
    listeners_.emplace_back(
        evconnlistener_new(base_.get(), tls ? &Worker::onAcceptTls : &Worker::onAccept, this,
                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, socket.fd.release()));
    if (socket.kind == ListenKind::kTransparent) {
      transparentListeners_.push_back(listeners_.back().get());
    }
  }
}

Worker::~Worker() {
  join();
  auto doomed = std::move(sessions_);
  sessions_.clear();
  doomed.clear();
  retired_.clear();
  fills_.reset();  // before the pool and the loop its fills use
  listeners_.clear();
  pool_.reset();
  parentProber_.reset();  // it may be waiting on the resolver
  resolver_.reset();
  mailbox_->close();  // a late password check finds it closed
}

void Worker::buildContext() {
  context_.base = base_.get();
  context_.resolver = resolver_.get();
  context_.clock = &clock_;
  context_.pool = pool_.get();
  context_.cache = server_.cache();
  context_.collapsed = &server_.collapsed();
  context_.stats = &server_.stats();
  context_.limiter = &server_.limiter();
  context_.abuseGuard = &server_.abuseGuard();
  context_.rateLimiter = &server_.rateLimiter();
  context_.hooks = &server_.hooks();
  context_.verifier = &server_.verifier();
  context_.mailbox = mailbox_.get();
  context_.credentials = &server_.credentials();
  context_.loginFailures = &server_.loginFailures();
  context_.decoyHash = &server_.decoyHash();
  context_.parents = &server_.parents();
  context_.parentTls = &server_.parentTls();
  context_.config = [this] { return server_.config(); };
  context_.noteCacheStorage = [this](const Error* failure) { server_.noteCacheStorage(failure); };
  context_.retire = [this](ClientConnection* session) { retire(session); };
  context_.shuttingDown = [this] { return shuttingDown_; };
  fills_ = std::make_unique<BackgroundFills>(context_);
  context_.fills = fills_.get();
}

void Worker::start() {
  thread_ = std::thread([this] {
    // Keep the loop alive even with no listener events pending during drain.
    event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
  });
}

void Worker::requestShutdown() {
  event_active(shutdownEvent_.get(), 0, 0);
}

void Worker::applySettings(std::shared_ptr<const config::Config> config) {
  {
    std::lock_guard lock(settingsMu_);
    pendingSettings_ = std::move(config);
  }
  event_active(settingsEvent_.get(), 0, 0);
}

void Worker::onSettingsEvent(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Worker*>(arg);
  try {
    std::shared_ptr<const config::Config> config;
    {
      std::lock_guard lock(self->settingsMu_);
      config = std::move(self->pendingSettings_);
    }
    if (!config) return;
    // Like Envoy's per-worker push: the worker's own objects change on its
    // own thread, never from the signal thread.
    self->resolver_->reconfigure(config->dns);
    self->pool_->setIdleTimeout(config->server.upstreamIdleTimeout);
    // Tunnels and streaming responses the new rules no longer allow are cut.
    self->policyWatch_->policyChanged(std::move(config), true);
  } catch (...) {
    // Never let an exception out of a libevent callback.
  }
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::retire(ClientConnection* session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  retired_.push_back(std::move(it->second));
  sessions_.erase(it);
  event_active(reapEvent_.get(), 0, 0);
}

void Worker::onAccept(evconnlistener* listener, evutil_socket_t fd, sockaddr* addr, int len,
                      void* arg) noexcept {
  auto* self = static_cast<Worker*>(arg);
  try {
    const auto& t = self->transparentListeners_;
    const bool transparent = std::find(t.begin(), t.end(), listener) != t.end();
    self->accept(fd, addr, len, transparent ? ListenKind::kTransparent : ListenKind::kPlain);
  } catch (...) {
    ::close(fd);
  }
}

void Worker::onAcceptTls(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                         void* arg) noexcept {
  auto* self = static_cast<Worker*>(arg);
  try {
    self->accept(fd, addr, len, ListenKind::kTls);
  } catch (...) {
    ::close(fd);
  }
}

void Worker::accept(int fd, const sockaddr* addr, int len, ListenKind kind) {
  const bool transparent = kind == ListenKind::kTransparent;
  const bool tls = kind == ListenKind::kTls;
  auto peer = net::SocketAddress::fromSockaddr(addr, static_cast<socklen_t>(len));
  auto ip = peer.ip();
  if (!ip || shuttingDown_) {
    ::close(fd);
    return;
  }
  auto config = server_.config();
  std::optional<TransparentDestination> destination;
  if (transparent) {
    destination = transparentDestination(fd, config->server);
    if (!destination) {
      ::close(fd);
      return;
    }
  }
  if (config->server.proxyProtocolFrom.contains(*ip)) {
    // A trusted balancer: who the client is comes in the PROXY header.
    auto wait = std::make_unique<ProxyHeaderWait>(
        base_.get(), fd, config->server.headerTimeout,
        [this, peer, destination, tls](ProxyHeaderWait* self, int conn,
                                       const http::ProxyHeader& header, const std::string& error) {
          onProxyHeader(self, conn, peer, header, error, destination, tls);
        });
    auto* raw = wait.get();
    headerWaits_.emplace(raw, std::move(wait));
    raw->start();
    return;
  }
  admit(fd, peer, *ip, {}, destination, tls);
}

void Worker::onProxyHeader(ProxyHeaderWait* wait, int fd, const net::SocketAddress& balancer,
                           const http::ProxyHeader& header, const std::string& error,
                           const std::optional<TransparentDestination>& destination, bool tls) {
  // The wait is over; it is on the stack, so it goes in onReap.
  if (auto it = headerWaits_.find(wait); it != headerWaits_.end()) {
    retiredWaits_.push_back(std::move(it->second));
    headerWaits_.erase(it);
    event_active(reapEvent_.get(), 0, 0);
  }
  if (!error.empty()) {
    if (server_.hooks().clientEvent) {
      server_.hooks().clientEvent("proxy_protocol_refused", balancer.toString(), error);
    }
    server_.stats().connectionRefused(admin::RefuseReason::kOther);
    ::close(fd);
    return;
  }
  net::SocketAddress client = balancer;  // LOCAL: the balancer speaks for itself
  if (header.command == http::ProxyHeader::Command::kProxy) {
    const auto& src = header.source;
    auto ip = src.v6
                  ? acl::IpAddress::fromBytes(src.bytes)
                  : acl::IpAddress::fromV4(static_cast<uint32_t>(src.bytes[0]) << 24 |
                                           static_cast<uint32_t>(src.bytes[1]) << 16 |
                                           static_cast<uint32_t>(src.bytes[2]) << 8 | src.bytes[3]);
    client = net::SocketAddress::from(ip, src.port);
  }
  admit(fd, client, *client.ip(), balancer.toString(), destination, tls);
}

void Worker::admit(int fd, const net::SocketAddress& peer, const acl::IpAddress& clientIp,
                   const std::string& balancer,
                   const std::optional<TransparentDestination>& destination, bool tls) {
  const acl::IpAddress* ip = &clientIp;
  auto config = server_.config();
  auto& stats = server_.stats();
  bool blockEnded = false;
  if (server_.abuseGuard().blocked(*ip, std::chrono::steady_clock::now(), blockEnded)) {
    // A scanner under a block: closed at once, before any byte is read.
    stats.connectionRefused(admin::RefuseReason::kBlocked);
    ::close(fd);
    return;
  }
  if (blockEnded && server_.hooks().clientEvent) {
    server_.hooks().clientEvent("client_unblocked", ip->toString(), {});
  }
  auto admitted = server_.limiter().admit(*ip, config->server.maxConnections,
                                          config->server.maxConnectionsPerClient);
  if (admitted == AdmitResult::kGlobalLimit) {
    stats.connectionRefused(admin::RefuseReason::kMaxConnections);
    noteLimitHit("max_connections", *ip);
    refuseAtAccept(fd, "connection limit reached");
    return;
  }
  if (admitted == AdmitResult::kClientLimit) {
    stats.connectionRefused(admin::RefuseReason::kPerClient);
    noteLimitHit("max_connections_per_client", *ip);
    refuseAtAccept(fd, "per-client connection limit reached");
    return;
  }
  net::SslPtr ssl;
  if (tls) {
    // The handshake runs on this loop, non-blocking, inside the bufferevent.
    auto context = server_.tlsContext();
    if (context) ssl = context->newSsl();
    if (!ssl) {
      server_.limiter().release(*ip);
      ::close(fd);
      return;
    }
  }
  stats.connectionOpened();
  evutil_make_socket_nonblocking(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto session =
      std::make_unique<ClientConnection>(context_, fd, peer, *ip, std::move(ssl), destination);
  auto* raw = session.get();
  sessions_.emplace(raw, std::move(session));
  if (!balancer.empty()) raw->setBalancer(balancer);
  raw->start();
}

std::optional<TransparentDestination> Worker::transparentDestination(
    int fd, const config::ServerConfig& server) {
  auto original = net::originalDestination(fd);
  if (!original.ok()) return std::nullopt;
  auto ip = original->ip();
  if (!ip) return std::nullopt;
  const auto& tls = server.transparentTlsPorts;
  const uint16_t port = original->port();
  return TransparentDestination{*ip, port, std::find(tls.begin(), tls.end(), port) != tls.end()};
}

void Worker::noteLimitHit(std::string_view limit, const acl::IpAddress& client) {
  // One event per worker per 10 s at most: a flood must not flood the log too.
  auto now = std::chrono::steady_clock::now();
  if (now - lastLimitEvent_ < std::chrono::seconds(10)) return;
  lastLimitEvent_ = now;
  if (server_.hooks().clientEvent) {
    server_.hooks().clientEvent("limit_hit", client.toString(), limit);
  }
}

void Worker::onShutdownEvent(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Worker*>(arg);
  try {
    self->drain();
  } catch (...) {
    event_base_loopbreak(self->base_.get());
  }
}

void Worker::recheckSessions(const acl::Policy& policy, SystemTime now) {
  // Collected first: a connection that closes retires itself from sessions_.
  std::vector<ClientConnection*> live;
  live.reserve(sessions_.size());
  for (auto& [ptr, owned] : sessions_) live.push_back(ptr);
  for (auto* s : live) s->recheckPolicy(policy, now);
}

void Worker::drain() {
  if (shuttingDown_) return;
  shuttingDown_ = true;
  listeners_.clear();  // stop accepting; the sockets close
  headerWaits_.clear();  // balancer connections whose client never said who it is
  evtimer_del(lagProbe_.get());
  fills_->stopAll();  // a fill without its client has no one to wait for
  pool_->clear();
  std::vector<ClientConnection*> live;
  live.reserve(sessions_.size());
  for (auto& [ptr, owned] : sessions_) live.push_back(ptr);
  for (auto* s : live) s->drain();
  auto grace = server_.config()->server.shutdownGrace;
  timeval tv{static_cast<time_t>(grace.count() / 1000),
             static_cast<suseconds_t>((grace.count() % 1000) * 1000)};
  evtimer_add(graceTimer_.get(), &tv);
  maybeFinishDrain();
}

void Worker::maybeFinishDrain() {
  if (shuttingDown_ && sessions_.empty()) event_base_loopexit(base_.get(), nullptr);
}

void Worker::onReap(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Worker*>(arg);
  // Moved out first: a destructor may call retire() again.
  auto dead = std::move(self->retired_);
  self->retired_.clear();
  dead.clear();
  self->retiredWaits_.clear();
  self->maybeFinishDrain();
}

void Worker::onLagProbe(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Worker*>(arg);
  // How late the timer fired is how long the loop was busy elsewhere.
  auto now = std::chrono::steady_clock::now();
  double lagMs = std::chrono::duration<double, std::milli>(now - self->lagProbeDue_).count();
  self->server_.stats().reportLoopLag(static_cast<size_t>(self->index_), std::max(0.0, lagMs));
  // The same once-a-second tick frees expired DNS answers (issue #12).
  self->resolver_->sweepCache();
  self->server_.stats().reportDnsCacheEntries(static_cast<size_t>(self->index_),
                                              self->resolver_->cacheSize());
  if (self->shuttingDown_) return;
  if (self->parentProber_) self->parentProber_->tick(*self->server_.config(), now);
  self->lagProbeDue_ = now + std::chrono::seconds(1);
  timeval second{1, 0};
  evtimer_add(self->lagProbe_.get(), &second);
}

void Worker::onGraceExpired(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Worker*>(arg);
  // In-flight requests that did not finish within the grace period are cut.
  auto doomed = std::move(self->sessions_);
  self->sessions_.clear();
  doomed.clear();
  auto dead = std::move(self->retired_);
  self->retired_.clear();
  event_base_loopexit(self->base_.get(), nullptr);
}

}  // namespace portcullis::proxy
