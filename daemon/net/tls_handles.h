#pragma once
// Owning handles for OpenSSL objects: each is wrapped the moment it is made.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/base/unique_handle.h"

namespace portcullis::net {

using SslCtxPtr = UniqueHandle<SSL_CTX, SSL_CTX_free>;
using SslPtr = UniqueHandle<SSL, SSL_free>;
using SslSessionPtr = UniqueHandle<SSL_SESSION, SSL_SESSION_free>;
using PkeyPtr = UniqueHandle<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = UniqueHandle<X509, X509_free>;
using BioPtr = UniqueHandle<BIO, BIO_free_all>;
using X509ExtPtr = UniqueHandle<X509_EXTENSION, X509_EXTENSION_free>;

}  // namespace portcullis::net
