#pragma once
// `portcullis tls init` (a local CA and a server certificate for the TLS
// proxy port) and `portcullis passwd` (a users-file line for [auth]).

#include <iosfwd>
#include <string>

namespace portcullis::runtime {

struct TlsInitCommand {
  std::string dir;
  std::string name;
  bool loopback = false;  ///< --ip-loopback: 127.0.0.1 and ::1 in the certificate too
};

/// Writes the files and prints how to trust the CA and the config lines. Exit code.
int runTlsInit(const TlsInitCommand& command, std::ostream& out, std::ostream& err);

/// `validate`'s last step: the certificate pair of listen_tls loads (as
/// `run` would load it); an error is printed as "FILE: error: ...". Exit
/// code 0 when there is no TLS port or the pair is good, 1 otherwise.
int checkTlsPair(const std::string& configPath, std::ostream& err);

/// Reads the password from standard input (twice, without echo, on a
/// terminal; else its first line), then adds or replaces USER's line in
/// FILE (created 0640 when missing) with a yescrypt hash, or bcrypt with
/// `bcrypt`. The file is replaced atomically. Exit code.
int runPasswd(const std::string& file, const std::string& user, bool bcrypt, std::istream& in,
              std::ostream& out, std::ostream& err);

}  // namespace portcullis::runtime
