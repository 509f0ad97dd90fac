#pragma once
// One worker: a thread with its own event loop, its own listeners (one
// SO_REUSEPORT socket per address), resolver and upstream pool. Client connections
// live and die on this thread only.

#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "daemon/base/unique_handle.h"
#include "daemon/config/config.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/net/resolver.h"
#include "daemon/proxy/parent_prober.h"
#include "daemon/proxy/policy_watch.h"
#include "daemon/proxy/proxy_context.h"
#include "daemon/proxy/proxy_header_wait.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/transparent_target.h"
#include "daemon/proxy/upstream_pool.h"
#include "daemon/proxy/verify_mailbox.h"

namespace portcullis::proxy {

class Server;
class ClientConnection;
class BackgroundFills;

class Worker {
 public:
  Worker(Server& server, int index, std::vector<ListenSocket> listenFds);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  /// Thread-safe: asks the loop to stop accepting and drain.
  void requestShutdown();
  /// Thread-safe: hands a reloaded snapshot to this worker. Its loop thread
  /// then applies the settings the worker owns (resolver, upstream pool),
  /// all at once, before any event that comes after; requests read the
  /// rest from their own snapshot. Only the newest pending snapshot is applied.
  void applySettings(std::shared_ptr<const config::Config> config);
  void join();

  Server& server() { return server_; }
  event_base* base() { return base_.get(); }
  net::Resolver& resolver() { return *resolver_; }
  UpstreamPool& pool() { return *pool_; }
  bool shuttingDown() const { return shuttingDown_; }

  /// Called by a connection when it is finished; it is deleted after
  /// the current callback returns, never inside it.
  void retire(ClientConnection* session);

 private:
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                       void* arg) noexcept;
  /// The same for a [server] listen_tls socket: the connection starts with a handshake.
  static void onAcceptTls(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                          void* arg) noexcept;
  static void onShutdownEvent(evutil_socket_t, short, void* arg) noexcept;
  static void onSettingsEvent(evutil_socket_t, short, void* arg) noexcept;
  static void onReap(evutil_socket_t, short, void* arg) noexcept;
  static void onGraceExpired(evutil_socket_t, short, void* arg) noexcept;
  static void onLagProbe(evutil_socket_t, short, void* arg) noexcept;
  void accept(int fd, const sockaddr* addr, int len, ListenKind kind);
  /// Where a connection accepted on a transparent listener was going; none
  /// when the socket cannot say (it is closed then).
  static std::optional<TransparentDestination> transparentDestination(
      int fd, const config::ServerConfig& server);
  /// After accept (and, from a trusted balancer, after its PROXY header):
  /// the abuse guard, the connection limits, then a ClientConnection for
  /// `client` (a TLS handshake first when `tls`). `balancer` is the
  /// balancer's "ip:port", or empty.
  void admit(int fd, const net::SocketAddress& client, const acl::IpAddress& ip,
             const std::string& balancer, const std::optional<TransparentDestination>& destination,
             bool tls);
  void onProxyHeader(ProxyHeaderWait* wait, int fd, const net::SocketAddress& balancer,
                     const http::ProxyHeader& header, const std::string& error,
                     const std::optional<TransparentDestination>& destination, bool tls);
  std::vector<std::unique_ptr<ProxyHeaderWait>> retiredWaits_;  ///< freed by onReap
  /// Fills context_ from this worker and its server (the connections' only way out).
  void buildContext();
  void noteLimitHit(std::string_view limit, const acl::IpAddress& client);
  void drain();
  void maybeFinishDrain();
  /// Every connection judges its open tunnel or streaming response again.
  void recheckSessions(const acl::Policy& policy, SystemTime now);

  Server& server_;
  int index_;
  std::vector<ListenSocket> listenFds_;
  net::EventBasePtr base_;
  std::vector<net::ListenerPtr> listeners_;
  std::vector<const evconnlistener*> transparentListeners_;  ///< of listeners_
  std::unique_ptr<net::Resolver> resolver_;
  std::unique_ptr<UpstreamPool> pool_;
  std::shared_ptr<VerifyMailbox> mailbox_;
  SystemClock clock_;
  ProxyContext context_;
  /// Before sessions_: a connection closing during teardown may still ask it.
  std::unique_ptr<BackgroundFills> fills_;
  net::EventPtr shutdownEvent_;
  net::EventPtr settingsEvent_;
  std::mutex settingsMu_;
  std::shared_ptr<const config::Config> pendingSettings_;  // guarded by settingsMu_
  net::EventPtr reapEvent_;
  net::EventPtr graceTimer_;
  net::EventPtr lagProbe_;  ///< fires every second; lateness = loop lag
  std::chrono::steady_clock::time_point lagProbeDue_;
  /// Worker 0 only: the [[parent]] health checks, run from the lag probe's tick.
  std::unique_ptr<ParentProber> parentProber_;
  std::chrono::steady_clock::time_point lastLimitEvent_{};
  std::unordered_map<ClientConnection*, std::unique_ptr<ClientConnection>> sessions_;
  /// Connections from [server] proxy_protocol_from whose header is not in yet.
  std::unordered_map<ProxyHeaderWait*, std::unique_ptr<ProxyHeaderWait>> headerWaits_;
  std::vector<std::unique_ptr<ClientConnection>> retired_;
  /// Reloads and schedule/until edges: re-judges sessions_ (after them: its
  /// callback walks them).
  std::unique_ptr<PolicyWatch> policyWatch_;
  bool shuttingDown_ = false;
  std::thread thread_;
};

}  // namespace portcullis::proxy
