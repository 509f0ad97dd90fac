#pragma once
// The client TLS contexts of the [[parent]] entries with tls = true, keyed
// by parent name, shared by the workers. prepare() builds them when a
// config is applied (start-up, reload), so no request ever reads a CA file;
// a parent whose CA is unchanged keeps its context across reloads.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/config/config.h"
#include "daemon/net/tls_client_context.h"

namespace portcullis::proxy {

class ParentTlsContexts {
 public:
  /// Builds (or keeps) the context of every TLS parent in `config` and
  /// drops the others. Returns "" or the errors (one per parent) for the log.
  std::string prepare(const config::Config& config);
  /// The context for parent `name`; null when it has none (not loaded:
  /// the parent then fails like a refused connection). Any thread.
  std::shared_ptr<const net::TlsClientContext> get(const std::string& name) const;

 private:
  struct Entry {
    std::string caFile;
    std::shared_ptr<const net::TlsClientContext> context;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> byName_;
};

}  // namespace portcullis::proxy
