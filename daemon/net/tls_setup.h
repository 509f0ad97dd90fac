#pragma once
// `portcullis tls init DIR --name HOST`: a small local CA and a server
// certificate signed by it, for an admin without a PKI. Writes DIR/ca.crt,
// DIR/ca.key, DIR/server.crt, DIR/server.key (keys 0600, EC P-256). Refuses
// to overwrite existing files.

#include <string>
#include <vector>

#include "daemon/base/result.h"

namespace portcullis::net {

struct TlsInitOptions {
  std::string dir;
  std::string name;       ///< the proxy's DNS name: CN and subjectAltName
  bool loopback = false;  ///< also IP:127.0.0.1 and IP:::1 in subjectAltName
  int caDays = 3650;
  int serverDays = 825;  ///< the longest macOS and iOS accept for a private CA
};

struct TlsInitFiles {
  std::string caCertificate, caKey, certificate, key;
};

Result<TlsInitFiles> tlsInit(const TlsInitOptions& options);

}  // namespace portcullis::net
