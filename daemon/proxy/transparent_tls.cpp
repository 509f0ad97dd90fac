#include "daemon/proxy/transparent_tls.h"

namespace portcullis::proxy {

ServerNamePeek peekServerName(std::string_view bytes) {
  // Until the ClientHello reader lands (daemon/tls/, the sni branch):
  // nothing is recognised, so every transparent TLS connection is refused.
  ServerNamePeek peek;
  peek.status = bytes.empty() ? ServerNamePeek::Status::kNeedMore : ServerNamePeek::Status::kNotTls;
  return peek;
}

}  // namespace portcullis::proxy
