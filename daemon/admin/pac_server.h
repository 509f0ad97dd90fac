#pragma once
// The PAC listener: serves the generated proxy auto-config file at
// /proxy.pac and /wpad.dat ([pac] listen) to the clients of the source sets
// [pac] clients names, on its own thread with its own event_base + evhttp,
// like the admin listener. Anyone else gets 403, other paths 404, methods
// other than GET/HEAD 405. The file and the client sets are swapped whole on
// reload (setContent); the listening addresses are fixed at start.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "acl/policy.h"
#include "daemon/base/result.h"
#include "daemon/config/config.h"

struct evhttp_request;

namespace portcullis::admin {

/// What the listener serves, and to whom. Immutable once published.
struct PacContent {
  std::string body;                           ///< pac::renderPacFile
  std::shared_ptr<const acl::Policy> policy;  ///< holds the source sets
  std::vector<size_t> clients;                ///< source set indexes allowed
};

class PacServer {
 public:
  /// Called on the PAC thread for every refused fetch (client address text).
  using RefusalHook = std::function<void(std::string_view client, std::string_view why)>;

  PacServer();
  ~PacServer();  ///< stop()
  PacServer(const PacServer&) = delete;
  PacServer& operator=(const PacServer&) = delete;

  /// Binds every address (port 0 picks a free port) and starts the thread.
  /// Errors name the address.
  Result<void> start(const std::vector<config::ListenAddress>& listen,
                     std::shared_ptr<const PacContent> content, RefusalHook onRefusal);
  /// Publishes a new file and client list (config reload). Any thread.
  void setContent(std::shared_ptr<const PacContent> content);
  /// The bound addresses ("IP:port"), real ports included.
  const std::vector<config::ListenAddress>& boundAddresses() const { return bound_; }
  /// Stops the thread and closes the sockets. Idempotent.
  void stop();

 private:
  struct Handles;
  static void onRequest(evhttp_request* req, void* self) noexcept;
  void handle(evhttp_request* req);
  std::shared_ptr<const PacContent> content() const;

  std::unique_ptr<Handles> h_;
  std::vector<config::ListenAddress> bound_;
  RefusalHook onRefusal_;
  mutable std::mutex mu_;
  std::shared_ptr<const PacContent> content_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace portcullis::admin
