// ClientConnection on a transparent TLS port: the first bytes are a
// ClientHello, not a request head. Its SNI becomes a CONNECT to that name
// at the original destination's port, which the exchange judges like any
// CONNECT (and then checks against the original destination); the
// ClientHello stays in the input buffer and is the first thing the tunnel
// sends upstream.

#include <event2/buffer.h>

#include <algorithm>

#include "daemon/proxy/client_connection.h"
#include "daemon/proxy/transparent_tls.h"

namespace portcullis::proxy {

void ClientConnection::readClientHello() {
  evbuffer* in = bufferevent_get_input(client_.get());
  const size_t len = evbuffer_get_length(in);
  if (len == 0) return;
  if (!headStarted_) {
    // The header timeout bounds how long a ClientHello may take.
    headStarted_ = true;
    armHeadTimer(config_->server.headerTimeout);
  }
  const size_t view = std::min(len, kMaxClientHelloBytes);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(view)));
  const ServerNamePeek peek = peekServerName(std::string_view(data, view));
  if (peek.status == ServerNamePeek::Status::kNeedMore && view < kMaxClientHelloBytes) return;
  if (peek.status != ServerNamePeek::Status::kDone) {
    exchange_.refuseTransparentTls("hard:transparent-not-tls",
                                   "the first bytes are not a TLS ClientHello");
    return;
  }
  if (peek.serverName.empty()) {
    // Without a name there is nothing to judge but the address: refused,
    // like a CONNECT to a bare IP the rules cannot name.
    exchange_.refuseTransparentTls("hard:transparent-no-sni", "the ClientHello names no server");
    return;
  }
  http::RequestHead head;
  head.method = "CONNECT";
  head.methodKind = http::Method::kConnect;
  head.target = peek.serverName + ":" + std::to_string(transparent_->port);
  head.headers.add("Host", head.target);
  beginExchange(std::move(head), 0);
}

}  // namespace portcullis::proxy
