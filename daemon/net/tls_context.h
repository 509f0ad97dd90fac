#pragma once
// The server side of the TLS proxy port ([server] listen_tls): one SSL_CTX
// built from a PEM certificate chain and key, with Mozilla's "intermediate"
// settings (TLS 1.2 and 1.3, ECDHE AEAD ciphers, no renegotiation, no
// compression) and ALPN fixed to http/1.1. Immutable once built: a reload
// builds a new one and swaps the shared_ptr (Server::setTlsContext); open
// connections keep the SSL they were accepted with.

#include <memory>
#include <string>

#include "daemon/base/result.h"
#include "daemon/net/tls_handles.h"

namespace portcullis::net {

class TlsServerContext {
 public:
  /// Loads and checks the pair (the key must match the certificate). The
  /// error names the file and OpenSSL's reason. Runs on the caller's thread
  /// (start-up, reload): reads two small files.
  static Result<std::shared_ptr<const TlsServerContext>> load(const std::string& certificateFile,
                                                              const std::string& keyFile);

  /// A new server-side SSL for one accepted connection, or null (out of
  /// memory). Thread-safe (SSL_new on a shared SSL_CTX is).
  SslPtr newSsl() const;

  /// "CN=..., not after ..." of the certificate, for the event log.
  const std::string& summary() const { return summary_; }

 private:
  SslCtxPtr ctx_;
  std::string summary_;
};

/// OpenSSL's queued errors as one line (and clears the queue).
std::string takeOpenSslErrors();

}  // namespace portcullis::net
