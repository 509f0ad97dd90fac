#include "daemon/net/tls_context.h"

#include <openssl/err.h>

#include <cstring>

namespace portcullis::net {

namespace {

// Mozilla's "intermediate" configuration (ssl-config.mozilla.org, v5.7):
// TLS 1.2 ciphers; TLS 1.3 suites are OpenSSL's defaults, all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

/// ALPN: a proxy connection speaks HTTP/1.1 only; a client that offers
/// only h2 gets no ALPN and still HTTP/1.1 (RFC 7301 §3.2 allows ignoring).
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string describe(X509* cert) {
  char name[256] = "";
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  std::string out = name;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio && ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert)) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    out += ", not after " + std::string(data, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

std::string takeOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<std::shared_ptr<const TlsServerContext>> TlsServerContext::load(
    const std::string& certificateFile, const std::string& keyFile) {
  ERR_clear_error();
  auto ctx = std::make_shared<TlsServerContext>();
  ctx->ctx_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* c = ctx->ctx_.get();
  if (c == nullptr) return makeError("TLS: " + takeOpenSslErrors());
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Idle keep-alive connections give their buffers back (34 KiB each).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 || SSL_CTX_set1_groups_list(c, kGroups) != 1) {
    return makeError("TLS: cipher settings: " + takeOpenSslErrors());
  }
  SSL_CTX_set_alpn_select_cb(c, &selectAlpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(c, certificateFile.c_str()) != 1) {
    return makeError("tls_certificate '" + certificateFile + "': " + takeOpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(c, keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    return makeError("tls_key '" + keyFile + "': " + takeOpenSslErrors());
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return makeError("tls_key '" + keyFile + "' does not match tls_certificate '" +
                     certificateFile + "'");
  }
  ctx->summary_ = describe(SSL_CTX_get0_certificate(c));
  return std::shared_ptr<const TlsServerContext>(std::move(ctx));
}

SslPtr TlsServerContext::newSsl() const {
  return SslPtr(SSL_new(ctx_.get()));
}

}  // namespace portcullis::net
