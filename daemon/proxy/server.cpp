#include "daemon/proxy/server.h"

#include "daemon/auth/password_hash.h"
#include "daemon/net/listen_socket.h"
#include "daemon/net/original_destination.h"
#include "daemon/proxy/worker.h"

namespace portcullis::proxy {

Server::Server(std::shared_ptr<const config::Config> config, admin::Stats& stats, ProxyHooks hooks)
    : config_(std::move(config)), hooks_(std::move(hooks)), stats_(stats) {
  parentTlsErrors_ = parentTls_.prepare(*config_.load());
  const auto& auth = config_.load()->auth;
  verifier_ = std::make_unique<auth::VerifierPool>(auth.verifierThreads);
  if (auth.enabled()) {
    // Unknown users are checked against this, so that a wrong name takes as
    // long as a wrong password (no user enumeration by timing).
    auto decoy = auth::makeHash("portcullis-decoy", auth::HashKind::kYescrypt);
    if (decoy.ok()) decoyHash_ = std::move(decoy.value());
  }
}

Server::~Server() {
  beginShutdown();
  join();
}

Result<void> Server::bind() {
  auto config = config_.load();
  const unsigned workers = std::max(1u, config->server.workers);
  listenFds_.clear();
  listenFds_.resize(workers);
  bound_.clear();
  boundTls_.clear();
  boundTransparent_.clear();
  for (const auto& listen : config->server.listen) {
    if (auto r = bindOne(listen, ListenKind::kPlain, workers); !r.ok()) return r;
  }
  for (const auto& listen : config->server.listenTls) {
    if (auto r = bindOne(listen, ListenKind::kTls, workers); !r.ok()) return r;
  }
  for (const auto& listen : config->server.listenTransparent) {
    if (auto r = bindOne(listen, ListenKind::kTransparent, workers); !r.ok()) return r;
  }
  return {};
}

Result<void> Server::bindOne(const config::ListenAddress& listen, ListenKind kind,
                             unsigned workers) {
  // The loader checked `listen` (config::parseListenAddress): host is an IP literal.
  const auto ip = acl::IpAddress::parse(listen.host);
  if (!ip) return makeError("invalid listen address " + listen.text);
  auto address = net::SocketAddress::from(*ip, listen.port);
  for (unsigned w = 0; w < workers; ++w) {
    auto fd = net::openListenSocket(address);
    if (!fd.ok()) return fd.error();
    if (kind == ListenKind::kTransparent) {
      // TPROXY hands over connections addressed to other hosts only to an
      // IP_TRANSPARENT listener; `redirect` needs nothing.
      if (auto r = net::makeTransparent(fd->get(), address.family()); !r.ok()) {
        tproxyWarning_ = r.error().message;
      }
    }
    if (w == 0) {
      // Port 0: the first bind picks the port; every worker shares it.
      auto actual = net::boundAddress(fd->get());
      if (!actual.ok()) return actual.error();
      address = *actual;
      (kind == ListenKind::kTls           ? boundTls_
       : kind == ListenKind::kTransparent ? boundTransparent_
                                          : bound_)
          .push_back(*actual);
    }
    listenFds_[w].push_back(ListenSocket{std::move(fd.value()), kind});
  }
  return {};
}

void Server::start() {
  for (size_t w = 0; w < listenFds_.size(); ++w) {
    workers_.push_back(std::make_unique<Worker>(*this, static_cast<int>(w), std::move(listenFds_[w])));
  }
  listenFds_.clear();
  for (auto& w : workers_) w->start();
}

void Server::reload(std::shared_ptr<const config::Config> config) {
  parentTlsErrors_ = parentTls_.prepare(*config);
  config_.store(config);
  for (auto& w : workers_) w->applySettings(config);
}

void Server::noteCacheStorage(const Error* failure) {
  // An object that is too large, Vary: * or invalidated meanwhile is not a
  // failing cache; a full or broken disk is.
  if (failure != nullptr && failure->kind != Error::Kind::kStorage) return;
  const bool ok = failure == nullptr;
  const std::string_view why = ok ? std::string_view() : std::string_view(failure->message);
  bool wasFailing = cacheStoreFailing_.exchange(!ok);
  if (wasFailing == !ok || !hooks_.cacheEvent) return;
  hooks_.cacheEvent(ok ? "cache_store_recovered" : "cache_store_failing", why);
}

void Server::beginShutdown() {
  for (auto& w : workers_) w->requestShutdown();
}

void Server::join() {
  for (auto& w : workers_) w->join();
}

}  // namespace portcullis::proxy
