#pragma once
// The resolver as the request path sees it: an interface, so that an
// exchange runs in-process in tests with a fake one.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "daemon/net/dns_cache.h"

namespace portcullis::net {

/// Asynchronous name resolution for one worker loop. `Resolver` (evdns) is the real one.
class HostResolver {
 public:
  using Callback = std::function<void(const DnsAnswer&)>;
  virtual ~HostResolver() = default;
  /// Answers at once by returning the answer, or returns nullopt and later calls `cb` on the
  /// loop thread unless cancel(ticket) was called first.
  virtual std::optional<DnsAnswer> resolve(const std::string& host, Callback cb,
                                           uint64_t& ticket) = 0;
  virtual void cancel(uint64_t ticket) = 0;
};

}  // namespace portcullis::net
