#include "daemon/proxy/transparent_tls.h"

#include "daemon/tls/client_hello.h"

namespace portcullis::proxy {

ServerNamePeek peekServerName(std::string_view bytes) {
  ServerNamePeek peek;
  const tls::HelloOutcome outcome = tls::readClientHello(bytes);
  switch (outcome.status) {
    case tls::HelloStatus::kNeedMore:
      peek.status = ServerNamePeek::Status::kNeedMore;
      break;
    case tls::HelloStatus::kClientHello:
      peek.status = ServerNamePeek::Status::kDone;
      if (outcome.hello.hasSni) peek.serverName = outcome.hello.sni;
      break;
    case tls::HelloStatus::kNotTls:
    case tls::HelloStatus::kMalformed:
      peek.status = ServerNamePeek::Status::kNotTls;
      break;
  }
  return peek;
}

}  // namespace portcullis::proxy
