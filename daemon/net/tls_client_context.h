#pragma once
// The client side of TLS to a parent proxy ([[parent]] tls = true): one
// SSL_CTX per parent, built when the config is applied (not per request),
// with the CA file or the system trust store, TLS 1.2 and up, and peer
// verification on. Immutable once built; each connection gets its own SSL
// with the name to verify (RFC 6125 via SSL_set1_host / the IP check) and SNI.
// It also keeps the last resumable TLS session per name, so a new
// connection resumes it (RFC 8446 §2.2) instead of a full handshake.

#include <event2/event.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/base/result.h"
#include "daemon/net/libevent_handles.h"
#include "daemon/net/tls_handles.h"

namespace portcullis::net {

class TlsClientContext {
 public:
  /// Loads `caFile` (PEM; "" = the system's default paths). The error names
  /// the file and OpenSSL's reason. Reads a file: start-up or reload only.
  static Result<std::shared_ptr<const TlsClientContext>> load(const std::string& caFile);

  /// A client SSL that verifies the peer as `name` (a host name, or an IP
  /// literal checked against the certificate's IP SANs) and sends `name`
  /// as SNI when it is not an IP literal (RFC 6066 §3), offering the
  /// session remembered for `name`, if any. Null on failure. Any thread.
  SslPtr newSsl(const std::string& name) const;

  /// Remembers the session of `ssl` (connected to `name` with newSsl(name),
  /// its certificate verified) for the next newSsl(name), when it can be
  /// resumed. Call it once a response came: TLS 1.3 sends its tickets after
  /// the handshake. Only this context (its CA) and only `name` ever offer
  /// it, so a resumption never skips a check a full handshake would make.
  /// Any thread.
  void rememberSession(const std::string& name, SSL* ssl) const;

  /// Unique to this context for the life of the process (never reused,
  /// unlike its address): connections made with it are pooled under it, so
  /// a reload that builds a new context never reuses the old connections.
  uint64_t id() const { return id_; }

 private:
  SslCtxPtr ctx_;
  uint64_t id_ = 0;
  mutable std::mutex sessionsMu_;
  mutable std::map<std::string, SslSessionPtr, std::less<>> sessions_;  ///< by name
};

/// Starts the client TLS handshake of `ssl` over the connected socket
/// bufferevent `tcp`: a filter bufferevent (BEV_OPT_CLOSE_ON_FREE, callbacks
/// deferred to the loop, never run from inside a call on it) that owns
/// both from here on, so freeing it frees the SSL and the socket; nothing
/// else may free them. Both are handed over whatever happens: on failure
/// (out of memory only) the result is null and libevent 2.1 has freed the
/// SSL and, past its first steps, the socket (at worst one socket leaks;
/// never a double free).
BufferEventPtr startClientTls(event_base* base, BufferEventPtr tcp, SslPtr ssl);

/// Why a client handshake on `ssl` failed: the verify result when the
/// certificate was refused, else OpenSSL's `error` (bufferevent_get_openssl_error).
std::string describeHandshakeFailure(const SSL* ssl, unsigned long error);

}  // namespace portcullis::net
