// [[safe_search]] in the exchange: a service's host name is resolved as its
// forced-safe name (config/safe_search.h). The request itself is unchanged
// (Host, CONNECT target, SNI): the forced-safe servers answer for the normal
// names; only the addresses the proxy connects to differ, and they pass the
// same post-DNS checks as any answer.

#include "daemon/proxy/exchange.h"

namespace portcullis::proxy {

std::string Exchange::resolveName() {
  safeSearch_ = config::safeSearchFor(config_->safeSearch, *config_->policy, connection_.clientIp(),
                                      target_.host);
  return safeSearch_ ? safeSearch_->safeName : target_.host;
}

}  // namespace portcullis::proxy
