#include "tests/unit/proxy/exchange_harness.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <filesystem>
#include <stdexcept>

#include "daemon/config/config_loader.h"

namespace portcullis::testing {

bool runLoopUntil(event_base* base, const std::function<bool()>& done,
                  std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  // A timer at the deadline bounds each blocking turn of the loop.
  net::EventPtr bound(evtimer_new(
      base, [](evutil_socket_t, short, void*) {}, nullptr));
  while (!done()) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return false;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    evtimer_add(bound.get(), &tv);
    event_base_loop(base, EVLOOP_ONCE);
  }
  return true;
}

// ---------------------------------------------------------------- phases

void PhaseRecorder::onPhase(std::string_view part, std::string_view from, std::string_view to) {
  changes_.push_back(PhaseChange{std::string(part), std::string(from), std::string(to)});
}

bool PhaseRecorder::reached(std::string_view part, std::string_view phase) const {
  for (const auto& c : changes_) {
    if (c.part == part && (c.to == phase || c.from == phase)) return true;
  }
  return false;
}

std::vector<std::string> PhaseRecorder::path(std::string_view part) const {
  std::vector<std::string> out;
  for (const auto& c : changes_) {
    if (c.part != part) continue;
    if (out.empty() || out.back() != c.from) out.push_back(c.from);
    out.push_back(c.to);
  }
  return out;
}

std::set<std::string> PhaseRecorder::reachedSet() const {
  std::set<std::string> out;
  for (const auto& c : changes_) {
    out.insert(c.part + ":" + c.from);
    out.insert(c.part + ":" + c.to);
  }
  return out;
}

// ---------------------------------------------------------------- harness

namespace {
std::string makeTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "pc-exchange-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}
}  // namespace

ExchangeHarness::ExchangeHarness(HarnessOptions options) : base_(event_base_new()) {
  // Writing to a client that went away must be an error, not a signal.
  ::signal(SIGPIPE, SIG_IGN);
  resolver_ = std::make_unique<FakeResolver>(base_.get());
  origin_ = std::make_unique<OriginServer>(base_.get());
  resolver_->answer("origin.test", {"127.0.0.1"});
  resolver_->answer("blocked.test", {"127.0.0.1"});
  resolver_->answer("meta.named.test", {"169.254.169.254"});
  if (options.cache) cacheDir_ = makeTempDir();
  options_ = options;
  configText_ = buildConfig(options);
  auto loaded = config::loadConfigText(configText_, "exchange.toml");
  if (!loaded.config) {
    std::string why;
    for (const auto& d : loaded.diagnostics) why += d.format() + "\n";
    throw std::runtime_error("exchange config does not load:\n" + why + configText_);
  }
  config_ = loaded.config;
  if (options.cache) openCache(options.cacheFlushInterval);
  stats_ = std::make_unique<admin::Stats>(clock_.systemNow());
  pool_ =
      std::make_unique<proxy::UpstreamPool>(base_.get(), config_->server.upstreamIdleTimeout, 64);
  hooks_.access = [this](const log::AccessRecord& r) { records_.push_back(r); };
  hooks_.clientEvent = [this](std::string_view event, const std::string& client,
                              std::string_view detail) {
    clientEvents_.push_back(std::string(event) + " " + client + " " + std::string(detail));
  };
  reap_.reset(event_new(base_.get(), -1, 0, &ExchangeHarness::onReap, this));

  auto& c = context_;
  c.base = base_.get();
  c.resolver = resolver_.get();
  c.clock = &clock_;
  c.pool = pool_.get();
  c.cache = cache_.get();
  c.collapsed = &collapsed_;
  c.stats = stats_.get();
  c.limiter = &limiter_;
  c.abuseGuard = &abuseGuard_;
  c.rateLimiter = &rateLimiter_;
  c.hooks = &hooks_;
  c.config = [this] { return config_; };
  c.noteCacheStorage = [this](const Error* failure) {
    if (failure != nullptr) cacheFailures_.push_back(failure->message);
  };
  c.retire = [this](Connection* s) {
    auto it = connections_.find(s);
    if (it == connections_.end()) return;  // being destroyed by the harness
    retired_.push_back(std::move(it->second));
    connections_.erase(it);
    event_active(reap_.get(), 0, 0);
  };
  c.shuttingDown = [this] { return shuttingDown_; };
  c.observer = &phases_;
  fills_ = std::make_unique<proxy::BackgroundFills>(context_);
  c.fills = fills_.get();
  verifier_ = std::make_unique<auth::VerifierPool>(1);
  mailbox_ = proxy::VerifyMailbox::create(base_.get());
  c.verifier = verifier_.get();
  c.mailbox = mailbox_.get();
  c.credentials = &credentials_;
  c.loginFailures = &loginFailures_;
  c.decoyHash = &decoyHash_;
}

ExchangeHarness::~ExchangeHarness() {
  // Connections close (and log) while everything they use still exists.
  closeConnections();
  mailbox_->close();  // a late check finds it closed
  verifier_.reset();  // joins the verifier thread
  fills_.reset();
  clients_.clear();
  pool_->clear();
  cache_.reset();
  if (!cacheDir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(cacheDir_, ec);
  }
}

void ExchangeHarness::closeConnections() {
  // Moved out first: a closing connection's retire() then finds nothing to move.
  auto doomed = std::move(connections_);
  connections_.clear();
  doomed.clear();
  auto dead = std::move(retired_);
  retired_.clear();
  dead.clear();
}

void ExchangeHarness::recheckPolicy(const config::Config& config) {
  std::vector<Connection*> live;
  for (auto& [ptr, owned] : connections_) live.push_back(ptr);
  for (auto* c : live) c->recheckPolicy(*config.policy, clock_.systemNow());
}

void ExchangeHarness::reloadCacheLines(const std::string& cacheLines) {
  options_.cacheLines = cacheLines;
  configText_ = buildConfig(options_);
  auto loaded = config::loadConfigText(configText_, "exchange.toml");
  if (!loaded.config) throw std::runtime_error("reloaded config does not load:\n" + configText_);
  config_ = loaded.config;
}

std::string ExchangeHarness::buildConfig(const HarnessOptions& options) const {
  const std::string ports = std::to_string(origin_->port()) + ", " +
                            std::to_string(refusing_.port()) + ", " +
                            std::to_string(blackhole_.port());
  std::string text = "[server]\nlisten = [\"127.0.0.1:1\"]\nworkers = 1\n" + options.server +
                     "\n[log]\naccess = \"\"\nevents = \"-\"\n[admin]\nlisten = \"\"\n";
  if (options.cache) {
    text += "[cache]\nenabled = true\ndir = \"" + cacheDir_ + "\"\nmin_free_disk = \"0\"\n" +
            options.cacheLines + "\n";
  }
  // The deny by name comes first: the allow by address would also match.
  text += std::string("[sources]\nlocal = ") +
          (options.plaintextAuth ? "{ cidrs = [\"127.0.0.1/32\"], plaintext_auth = true }\n"
                                 : "[\"127.0.0.1/32\"]\n") +
          "[destinations]\n"
          "blocked = { hosts = [\"blocked.test\"] }\n"
          "origin = { cidrs = [\"127.0.0.0/8\"], ports = [" +
          ports +
          "] }\n"
          "named = { hosts = [\"*.named.test\"] }\n"
          "[[rule]]\nname = \"no-blocked\"\ndeny = { from = \"local\", to = \"blocked\" }\n"
          "[[rule]]\nname = \"local-to-origin\"\nallow = { from = \"local\", to = \"origin\" }\n"
          "[[rule]]\nname = \"local-to-named\"\nallow = { from = \"local\", to = \"named\" }\n";
  return text + options.extra + "\n";
}

void ExchangeHarness::openCache(std::chrono::milliseconds flushInterval) {
  const auto& c = config_->cache;
  cache::CacheOptions o;
  o.dir = c.dir;
  o.maxSize = c.maxSize;
  o.maxObjectSize = c.maxObjectSize;
  o.memorySize = c.memorySize;
  o.memoryMaxObjectSize = c.memoryMaxObjectSize;
  o.minFreeDisk = 0;
  o.flushInterval = flushInterval;
  auto opened = cache::Cache::open(o);
  if (!opened.ok()) throw std::runtime_error("cache: " + opened.error().message);
  cache_ = std::move(opened).value();
  cache_->waitUntilReady();
}

std::string ExchangeHarness::url(std::string_view path) const {
  return "http://origin.test:" + std::to_string(origin_->port()) + std::string(path);
}

std::string ExchangeHarness::get(std::string_view path, std::string_view fields) const {
  return "GET " + url(path) + " HTTP/1.1\r\nHost: origin.test:" + std::to_string(origin_->port()) +
         "\r\n" + std::string(fields) + "\r\n";
}

TestClient& ExchangeHarness::connect(std::optional<proxy::TransparentDestination> transparent) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::runtime_error("socketpair failed");
  }
  UniqueFd proxyEnd(fds[0]);
  auto ip = *acl::IpAddress::parse("127.0.0.1");
  auto peer = net::SocketAddress::from(ip, static_cast<uint16_t>(40001 + clients_.size()));
  clients_.push_back(std::make_unique<TestClient>(base_.get(), UniqueFd(fds[1]), peer.toString()));
  // What Worker::accept does for an admitted connection.
  limiter_.admit(ip, config_->server.maxConnections, config_->server.maxConnectionsPerClient);
  stats_->connectionOpened();
  auto connection = std::make_unique<Connection>(context_, proxyEnd.release(), peer, ip,
                                                 net::SslPtr{}, std::move(transparent));
  auto* raw = connection.get();
  connections_.emplace(raw, std::move(connection));
  raw->start();
  return *clients_.back();
}

std::optional<log::AccessRecord> ExchangeHarness::lastRecordOf(const TestClient& client) const {
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->client == client.peer()) return *it;
  }
  return std::nullopt;
}

size_t ExchangeHarness::recordsOf(const TestClient& client) const {
  size_t n = 0;
  for (const auto& r : records_) n += r.client == client.peer() ? 1 : 0;
  return n;
}

void ExchangeHarness::onReap(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<ExchangeHarness*>(arg);
  // Moved out first: a destructor may retire another connection.
  auto dead = std::move(self->retired_);
  self->retired_.clear();
  dead.clear();
}

}  // namespace portcullis::testing
