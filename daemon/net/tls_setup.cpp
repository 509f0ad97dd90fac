#include "daemon/net/tls_setup.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "daemon/net/tls_context.h"
#include "daemon/net/tls_handles.h"

namespace portcullis::net {

namespace {

using FilePtr = UniqueHandle<FILE, fclose>;

Result<FilePtr> createFile(const std::string& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return makeError("cannot create " + path + ": " + std::strerror(errno));
  FilePtr f(::fdopen(fd, "w"));
  if (!f) {
    ::close(fd);
    return makeError("cannot open " + path);
  }
  return f;
}

bool addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

Result<X509Ptr> makeCert(EVP_PKEY* key, const std::string& cn, int days) {
  X509Ptr cert(X509_new());
  if (!cert) return makeError(takeOpenSslErrors());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // a positive serial (RFC 5280 §4.1.2.2)
  UniqueHandle<BIGNUM, BN_free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

Result<void> writePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  auto f = createFile(path, key ? 0600 : 0644);
  if (!f.ok()) return f.error();
  bool ok = key ? PEM_write_PrivateKey(f->get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1
                : PEM_write_X509(f->get(), cert) == 1;
  if (!ok) return makeError("cannot write " + path + ": " + takeOpenSslErrors());
  return {};
}

}  // namespace

Result<TlsInitFiles> tlsInit(const TlsInitOptions& o) {
  TlsInitFiles files{o.dir + "/ca.crt", o.dir + "/ca.key", o.dir + "/server.crt",
                     o.dir + "/server.key"};
  for (const std::string* p :
       {&files.caCertificate, &files.caKey, &files.certificate, &files.key}) {
    if (::access(p->c_str(), F_OK) == 0) return makeError(*p + " already exists; not overwriting");
  }
  if (::mkdir(o.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return makeError("cannot create " + o.dir + ": " + std::strerror(errno));
  }
  PkeyPtr caKey(EVP_EC_gen("P-256"));
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!caKey || !key) return makeError("key generation: " + takeOpenSslErrors());
  auto ca = makeCert(caKey.get(), "Portcullis local CA for " + o.name, o.caDays);
  auto server = makeCert(key.get(), o.name, o.serverDays);
  if (!ca.ok()) return ca.error();
  if (!server.ok()) return server.error();
  X509_set_issuer_name(ca->get(), X509_get_subject_name(ca->get()));
  X509_set_issuer_name(server->get(), X509_get_subject_name(ca->get()));
  std::string san = "DNS:" + o.name;
  if (o.loopback) san += ",IP:127.0.0.1,IP:::1";
  // pathlen:0: the CA signs end certificates only. The CA key is the
  // dangerous file: with it, anyone can impersonate any site to clients
  // that trust the CA; keep it offline once the server pair is made.
  bool ok = addExt(ca->get(), ca->get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
            addExt(ca->get(), ca->get(), NID_key_usage, "critical,keyCertSign,cRLSign") &&
            addExt(ca->get(), ca->get(), NID_subject_key_identifier, "hash") &&
            addExt(server->get(), ca->get(), NID_basic_constraints, "critical,CA:FALSE") &&
            addExt(server->get(), ca->get(), NID_key_usage, "critical,digitalSignature") &&
            addExt(server->get(), ca->get(), NID_ext_key_usage, "serverAuth") &&
            addExt(server->get(), ca->get(), NID_subject_alt_name, san.c_str()) &&
            addExt(server->get(), ca->get(), NID_subject_key_identifier, "hash") &&
            addExt(server->get(), ca->get(), NID_authority_key_identifier, "keyid:always");
  if (!ok) return makeError("certificate extensions: " + takeOpenSslErrors());
  if (X509_sign(ca->get(), caKey.get(), EVP_sha256()) == 0 ||
      X509_sign(server->get(), caKey.get(), EVP_sha256()) == 0) {
    return makeError("signing: " + takeOpenSslErrors());
  }
  if (auto r = writePem(files.caKey, nullptr, caKey.get()); !r.ok()) return r.error();
  if (auto r = writePem(files.caCertificate, ca->get(), nullptr); !r.ok()) return r.error();
  if (auto r = writePem(files.key, nullptr, key.get()); !r.ok()) return r.error();
  if (auto r = writePem(files.certificate, server->get(), nullptr); !r.ok()) return r.error();
  return files;
}

}  // namespace portcullis::net
