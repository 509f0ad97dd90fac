#include "daemon/runtime/identity_commands.h"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "daemon/auth/password_hash.h"
#include "daemon/auth/users_file.h"
#include "daemon/config/config_loader.h"
#include "daemon/net/tls_context.h"
#include "daemon/net/tls_setup.h"

namespace portcullis::runtime {

namespace {

std::string absolute(const std::string& path) {
  if (path.starts_with('/')) return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

/// One line from the terminal with echo off (restored on every path).
bool readHidden(std::istream& in, std::ostream& prompt, const char* what, std::string& line) {
  termios old{};
  const bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    prompt << what << std::flush;
  }
  const bool ok = static_cast<bool>(std::getline(in, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    prompt << "\n";
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return ok;
}

}  // namespace

int runTlsInit(const TlsInitCommand& c, std::ostream& out, std::ostream& err) {
  net::TlsInitOptions o;
  o.dir = absolute(c.dir);
  o.name = c.name;
  o.loopback = c.loopback;
  auto files = net::tlsInit(o);
  if (!files.ok()) {
    err << "portcullis tls init: " << files.error().message << "\n";
    return 1;
  }
  const auto& f = *files;
  out << "Wrote " << f.caCertificate << " and " << f.caKey << " (the local CA), " << f.certificate
      << " and " << f.key << " (the proxy's certificate for " << c.name << ").\nKeep " << f.caKey
      << " offline: whoever has it can impersonate any site to the clients that trust the CA.\n\n"
      << "Config lines ([server]):\n"
      << "  listen_tls = [\"0.0.0.0:3130\"]\n"
      << "  tls_certificate = \"" << f.certificate << "\"\n"
      << "  tls_key = \"" << f.key << "\"\n\n"
      << "Trust the CA on the clients (then use the proxy https://" << c.name << ":3130):\n"
      << "  Debian/Ubuntu: sudo cp " << f.caCertificate
      << " /usr/local/share/ca-certificates/portcullis-ca.crt && sudo update-ca-certificates\n"
      << "  Windows (admin): certutil -addstore -f Root portcullis-ca.crt\n"
      << "  macOS: sudo security add-trusted-cert -d -r trustRoot -k "
         "/Library/Keychains/System.keychain portcullis-ca.crt\n"
      << "  Firefox: Settings > Privacy & Security > Certificates > View Certificates > "
         "Authorities > Import (or policies.json \"Certificates\": {\"Install\": [...]})\n"
      << "  curl: curl --proxy https://" << c.name << ":3130 --proxy-cacert " << f.caCertificate
      << " https://example.org/\n";
  return 0;
}

int checkTlsPair(const std::string& configPath, std::ostream& err) {
  auto loaded = config::loadConfigFile(configPath);
  if (!loaded.config || loaded.config->server.listenTls.empty()) return 0;
  const auto& s = loaded.config->server;
  auto pair = net::TlsServerContext::load(s.tlsCertificate, s.tlsKey);
  if (pair.ok()) return 0;
  err << configPath << ": error: TLS proxy port: " << pair.error().message << "\n";
  return 1;
}

int runPasswd(const std::string& file, const std::string& user, bool bcrypt, std::istream& in,
              std::ostream& out, std::ostream& err) {
  if (!auth::validName(user)) {
    err << "portcullis passwd: '" << user
        << "' is not a valid user name (letters, digits, . _ - @)\n";
    return 2;
  }
  std::string password, again;
  if (!readHidden(in, err, "Password: ", password) || password.empty()) {
    err << "portcullis passwd: no password given\n";
    return 1;
  }
  if (::isatty(STDIN_FILENO) && (!readHidden(in, err, "Again: ", again) || again != password)) {
    err << "portcullis passwd: the passwords differ\n";
    return 1;
  }
  auto hash =
      auth::makeHash(password, bcrypt ? auth::HashKind::kBcrypt : auth::HashKind::kYescrypt);
  explicit_bzero(password.data(), password.size());
  explicit_bzero(again.data(), again.size());
  if (!hash.ok()) {
    err << "portcullis passwd: " << hash.error().message << "\n";
    return 1;
  }
  // Keep every other line as it is; replace this user's.
  std::ifstream old(file);
  std::string content, line;
  bool replaced = false;
  while (old && std::getline(old, line)) {
    if (line.starts_with(user + ":")) {
      line = user + ":" + *hash;
      replaced = true;
    }
    content += line + "\n";
  }
  if (!replaced) content += user + ":" + *hash + "\n";
  struct stat st {};
  const mode_t mode = ::stat(file.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0640;
  const std::string tmp = file + ".tmp";
  {
    std::ofstream w(tmp, std::ios::trunc);
    w << content;
    if (!w.flush()) {
      err << "portcullis passwd: cannot write " << tmp << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  ::chmod(tmp.c_str(), mode);
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
    err << "portcullis passwd: cannot replace " << file << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  out << (replaced ? "Updated" : "Added") << " user " << user << " in " << file
      << "; `portcullis reload` applies it.\n";
  return 0;
}

}  // namespace portcullis::runtime
