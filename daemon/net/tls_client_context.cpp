#include "daemon/net/tls_client_context.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include <atomic>

#include "daemon/net/tls_context.h"

namespace portcullis::net {

namespace {

bool isIpLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

Result<std::shared_ptr<const TlsClientContext>> TlsClientContext::load(const std::string& caFile) {
  ERR_clear_error();
  static std::atomic<uint64_t> nextId{1};
  auto out = std::make_shared<TlsClientContext>();
  out->id_ = nextId.fetch_add(1, std::memory_order_relaxed);
  out->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* c = out->ctx_.get();
  if (c == nullptr) return makeError("TLS: " + takeOpenSslErrors());
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  const int loaded = caFile.empty() ? SSL_CTX_set_default_verify_paths(c)
                                    : SSL_CTX_load_verify_locations(c, caFile.c_str(), nullptr);
  if (loaded != 1) {
    return makeError("TLS CA '" + (caFile.empty() ? std::string("system default") : caFile) +
                     "': " + takeOpenSslErrors());
  }
  return std::shared_ptr<const TlsClientContext>(std::move(out));
}

SslPtr TlsClientContext::newSsl(const std::string& name) const {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) return ssl;
  bool ok = true;
  if (isIpLiteral(name)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str()) == 1;
  } else {
    ok = SSL_set1_host(ssl.get(), name.c_str()) == 1 &&
         SSL_set_tlsext_host_name(ssl.get(), name.c_str()) == 1;
  }
  if (!ok) {
    ssl.reset();
    return ssl;
  }
  std::lock_guard lock(sessionsMu_);
  if (auto it = sessions_.find(name); it != sessions_.end()) {
    // A session the server no longer knows just means a full handshake.
    (void)SSL_set_session(ssl.get(), it->second.get());
  }
  return ssl;
}

void TlsClientContext::rememberSession(const std::string& name, SSL* ssl) const {
  if (ssl == nullptr) return;
  SSL_SESSION* current = SSL_get0_session(ssl);
  if (current == nullptr || SSL_SESSION_is_resumable(current) != 1) return;
  // A copy: the connection's own session is marked not resumable if it
  // later ends without close_notify (OpenSSL 3 calls that an error), which
  // says nothing about the handshake remembered here.
  SslSessionPtr session(SSL_SESSION_dup(current));
  if (!session) return;
  std::lock_guard lock(sessionsMu_);
  sessions_[name] = std::move(session);
}

BufferEventPtr startClientTls(event_base* base, BufferEventPtr tcp, SslPtr ssl) {
  // libevent owns both from the call on, even when it fails: with
  // BEV_OPT_CLOSE_ON_FREE its error paths free the SSL, and the socket
  // bufferevent once the filter holds a reference to it.
  // Deferred callbacks: libevent 2.1's filter reports a close_notify read
  // together with the response before it adds the decrypted response to the
  // input, so run directly the close would come first and the response be
  // lost; deferred, the read callback runs first. It also means enabling or
  // writing never calls back into the caller.
  bufferevent* filter =
      bufferevent_openssl_filter_new(base, tcp.release(), ssl.release(), BUFFEREVENT_SSL_CONNECTING,
                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  return BufferEventPtr(filter);
}

std::string describeHandshakeFailure(const SSL* ssl, unsigned long error) {
  if (ssl != nullptr) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
  }
  // libevent queues SSL_get_error()'s code when OpenSSL queued nothing.
  if (error != 0 && ERR_GET_LIB(error) == 0) {
    return "the connection closed during the handshake (SSL error " + std::to_string(error) + ")";
  }
  if (error != 0) {
    char buf[256];
    ERR_error_string_n(error, buf, sizeof buf);
    return buf;
  }
  return "handshake failed (connection closed)";
}

}  // namespace portcullis::net
