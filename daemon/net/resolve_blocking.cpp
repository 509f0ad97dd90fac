#include "daemon/net/resolve_blocking.h"

#include <event2/event.h>

#include <optional>

#include "daemon/net/libevent_handles.h"
#include "daemon/net/resolver.h"

namespace portcullis::net {

Result<std::vector<acl::IpAddress>> resolveBlocking(const config::DnsConfig& dns,
                                                    const std::string& host) {
  EventBasePtr base(event_base_new());
  if (!base) return makeError("cannot create an event loop");
  std::optional<DnsAnswer> answer;
  {
    Resolver resolver(base.get(), dns);
    uint64_t ticket = 0;
    answer = resolver.resolve(
        host,
        [&answer, &base](const DnsAnswer& a) {
          answer = a;
          event_base_loopbreak(base.get());
        },
        ticket);
    // Runs until the callback above; evdns' own timeout bounds the wait.
    if (!answer) event_base_dispatch(base.get());
  }
  if (!answer) return makeError("no answer");
  if (answer->addresses.empty()) {
    return makeError(answer->detail.empty() ? "no address" : answer->detail);
  }
  return answer->addresses;
}

}  // namespace portcullis::net
