#pragma once
// The admin listener: a small HTTP server on its own thread with its own
// event_base + evhttp, off the proxy port. Serves
//   GET /          the HTML status page
//   GET /status    figures as JSON (?since=SEQ limits "recent"; ?format=text
//                  for `portcullis status`; ?format=lines|jsonl&since=SEQ for
//                  `--follow`, with the newest seq in X-Portcullis-Seq)
//   GET /metrics   Prometheus text format
//   GET /healthz   200 "ok", or 503 "draining" once SIGTERM arrived
//   POST /cache/purge?url=U   through a handler the daemon sets (optional)
//   POST /unblock?ip=A        ends an abuse-guard block (handler, optional)
//   POST /reload, POST /reopen-logs   through the control handler (optional)
// Every request is checked first against the peer allow list (403), and the
// Host header must be an IP literal or "localhost" (403): a web page the
// admin's browser visits cannot read /status through DNS rebinding.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/admin/admin_address.h"
#include "daemon/admin/peer_allow_list.h"
#include "daemon/admin/stats.h"
#include "daemon/base/result.h"

struct event_base;
struct evhttp;
struct evhttp_request;
struct event;

namespace portcullis::admin {

class AdminServer {
 public:
  /// Purges `url` from the cache; returns a short message for the reply.
  /// Runs on the admin thread: must be thread-safe against the workers.
  using PurgeHandler = std::function<Result<std::string>(std::string_view url)>;
  /// Ends the abuse-guard block of client address `ip`; returns a short
  /// message, or an Error whose status (400 bad address, 404 not blocked)
  /// is the reply's. Runs on the admin thread.
  using UnblockHandler = std::function<Result<std::string>(std::string_view ip)>;

  /// `stats` must outlive the server.
  explicit AdminServer(Stats& stats);
  ~AdminServer();  ///< stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Before start(). Without a handler, POST /cache/purge answers 404.
  void setPurgeHandler(PurgeHandler handler);
  /// Before start(). Without a handler, POST /unblock answers 404.
  void setUnblockHandler(UnblockHandler handler);

  /// Starts "reload" or "reopen-logs"; returns a short message for the
  /// reply. Runs on the admin thread.
  using ControlHandler = std::function<Result<std::string>(std::string_view action)>;

  /// Before start(). Without a handler, POST /reload and /reopen-logs answer 404.
  void setControlHandler(ControlHandler handler);

  /// Binds `listen` (see AdminAddress; port 0 picks a free port), then
  /// starts the admin thread. For a Unix socket, a stale socket file at the
  /// path is replaced and the new one made mode 0660; the allow list does
  /// not apply to it (file permissions do). Errors name the address.
  Result<void> start(const std::string& listen, const std::vector<std::string>& allow);

  /// Replaces the allow list (config reload). Any thread.
  Result<void> setAllowList(const std::vector<std::string>& allow);

  /// The bound address, with the real port when 0 was asked for.
  std::string boundAddress() const;

  /// Stops the thread and closes the socket (removes a Unix socket file).
  /// Any thread but the admin thread; idempotent.
  void stop();

 private:
  struct Handles;
  static void onRequest(evhttp_request* req, void* self) noexcept;
  static void onWake(int fd, short what, void* self) noexcept;
  static void onMinute(int fd, short what, void* self) noexcept;
  void handle(evhttp_request* req);
  void serveStatus(evhttp_request* req, const std::string& query);
  void servePurge(evhttp_request* req, const std::string& query);
  void serveUnblock(evhttp_request* req, const std::string& query);
  void serveControl(evhttp_request* req, std::string_view action);
  bool peerAllowed(evhttp_request* req) const;
  Result<int> bindSocket(const AdminAddress& addr);

  Stats& stats_;
  PurgeHandler purge_;
  UnblockHandler unblock_;
  ControlHandler control_;
  std::unique_ptr<Handles> h_;
  AdminAddress bound_;
  mutable std::mutex allowMu_;
  std::shared_ptr<const PeerAllowList> allow_;  // guarded by allowMu_
  std::thread thread_;
};

}  // namespace portcullis::admin
