#include "daemon/config/parent_loader.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "acl/policy_impl.h"
#include "daemon/config/self_endpoints.h"
#include "daemon/http/host_port.h"

namespace portcullis::config {

namespace {

constexpr uint16_t kSmtpPort = 25;

std::string resolvePath(const std::string& baseDir, const std::string& p) {
  if (p.empty() || p.starts_with('/') || baseDir.empty()) return p;
  return baseDir + "/" + p;
}

/// The first line of the password file, without its line end; false when
/// it cannot be read or is empty.
bool readPassword(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return false;
  }
  std::getline(in, out);
  if (!out.empty() && out.back() == '\r') out.pop_back();
  if (out.empty()) {
    error = "'" + path + "' is empty: its first line is the password";
    return false;
  }
  return true;
}

void readAddress(TomlReader& r, const toml::table& t, const acl::SelfAddresses& self,
                 ParentConfig& p) {
  if (!r.getString(t, "address", p.address)) {
    r.error(t.source(), "[[parent]] needs 'address', e.g. address = \"192.0.2.10:3128\"");
    return;
  }
  // A name is resolved at each connect (proxy/upstream_parent.cpp), never
  // here: validate needs no DNS, and a changed record is followed.
  auto hp = http::parseHostPort(p.address, {.portRequired = true});
  const auto& where = t.get("address")->source();
  if (!hp) {
    r.error(where, "'address': " + hp.error().message +
                       " (write the parent's \"name:port\", \"IPv4:port\" or \"[IPv6]:port\")");
    return;
  }
  if (hp->port == kSmtpPort) {
    r.error(where, "'address': port 25 (SMTP) is never a parent proxy");
    return;
  }
  p.host = hp->host;
  p.port = hp->port;
  p.hostIsName = !hp->isIpLiteral;
  // hard:self: a parent that is one of our own listen addresses would send
  // every request back to us. A name is checked the same way once resolved.
  if (auto ip = acl::IpAddress::parse(p.host); ip && self.reaches(*ip, p.port)) {
    r.error(where, "'address': " + p.address +
                       " is the proxy's own listen address: requests would come back to it "
                       "(hard:self)");
  }
}

void readCredentials(TomlReader& r, const toml::table& t, const std::string& baseDir,
                     ParentConfig& p) {
  std::string file;
  const bool hasUser = r.getString(t, "username", p.username) && !p.username.empty();
  const bool hasFile = r.getString(t, "password_file", file) && !file.empty();
  if (hasUser != hasFile) {
    r.error(t.source(), "[[parent]] '" + p.name +
                            "': 'username' and 'password_file' go together (Basic credentials)");
    return;
  }
  if (!hasUser) return;
  if (p.username.find(':') != std::string::npos) {
    r.error(t.get("username")->source(), "'username' may not contain ':' (RFC 7617 §2)");
    return;
  }
  std::string password, error;
  if (!readPassword(resolvePath(baseDir, file), password, error)) {
    r.error(t.get("password_file")->source(), "'password_file': " + error);
    return;
  }
  p.authorization = "Basic " + base64Encode(p.username + ":" + password);
  if (!p.tls && p.host != "127.0.0.1" && p.host != "::1") {
    r.warning(t.get("username")->source(),
              "[[parent]] '" + p.name +
                  "': Basic credentials go to the parent in clear text (only base64)");
  }
}

void readTls(TomlReader& r, const toml::table& t, const std::string& baseDir, ParentConfig& p) {
  r.getBool(t, "tls", p.tls);
  std::string ca;
  const bool hasCa = r.getString(t, "tls_ca", ca) && !ca.empty();
  const bool hasName = r.getString(t, "tls_name", p.tlsName) && !p.tlsName.empty();
  if (!p.tls) {
    if (hasCa) r.error(t.get("tls_ca")->source(), "'tls_ca' needs 'tls = true'");
    if (hasName) r.error(t.get("tls_name")->source(), "'tls_name' needs 'tls = true'");
    return;
  }
  if (p.tlsName.empty()) p.tlsName = p.host;
  if (!hasCa) return;
  p.tlsCa = resolvePath(baseDir, ca);
  // Loaded into an SSL_CTX when the config is applied (proxy/parent_tls.h);
  // a file that cannot be read is a config error here, not a failed request.
  if (!std::ifstream(p.tlsCa, std::ios::binary)) {
    r.error(t.get("tls_ca")->source(), "'tls_ca': cannot open '" + p.tlsCa + "'");
  }
}

void readTo(TomlReader& r, const toml::table& t, const acl::Policy* policy, ParentConfig& p) {
  std::vector<std::string> names;
  std::vector<toml::source_region> where;
  if (!r.getStringArray(t, "to", names, &where) || policy == nullptr) return;
  const auto& sets = policy->impl().destinations;
  for (size_t i = 0; i < names.size(); ++i) {
    size_t found = sets.size();
    for (size_t s = 0; s < sets.size(); ++s) {
      if (sets[s].name == names[i]) found = s;
    }
    if (found == sets.size()) {
      r.error(where[i], "'to' names '" + names[i] + "', which is not a destination set");
    } else {
      p.to.push_back(found);
    }
  }
}

void readOne(TomlReader& r, const toml::table& t, const std::string& baseDir,
             const acl::Policy* policy, const acl::SelfAddresses& self, ParentsConfig& out) {
  ParentConfig p;
  if (!r.getString(t, "name", p.name) || p.name.empty()) {
    r.error(t.source(), "[[parent]] needs 'name', e.g. name = \"upstream1\"");
  }
  for (const ParentConfig& other : out.list) {
    if (!p.name.empty() && other.name == p.name) {
      r.error(t.get("name")->source(), "a [[parent]] named '" + p.name + "' is already defined");
    }
  }
  readAddress(r, t, self, p);
  readTls(r, t, baseDir, p);
  readCredentials(r, t, baseDir, p);
  int64_t weight = 1;
  if (r.getInteger(t, "weight", 1, 1000, weight)) p.weight = static_cast<uint32_t>(weight);
  readTo(r, t, policy, p);
  out.list.push_back(std::move(p));
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string describeParents(const Config& config, const acl::RequestFacts& facts) {
  const auto& parents = config.parents;
  if (parents.list.empty()) return {};
  std::string names;
  for (const ParentConfig& p : parents.list) {
    const bool forThis = p.to.empty() || std::any_of(p.to.begin(), p.to.end(), [&](size_t set) {
                           return config.policy->destinationMatches(set, facts);
                         });
    if (forThis) names += (names.empty() ? "" : ", ") + p.name + " (" + p.address + ")";
  }
  if (names.empty()) return "parents: none for this request: direct\n";
  const bool hashed = !facts.isConnect && (facts.method == "GET" || facts.method == "HEAD");
  return "parents: " + names +
         (hashed ? "; one picked by hashing the URL (weighted), the others its backups"
                 : "; tried in this order") +
         (parents.neverDirect ? "; never direct ([parents] never_direct)\n"
                              : "; then direct when none can be reached\n");
}

void readParents(TomlReader& r, const toml::table& root, const std::string& baseDir,
                 const acl::Policy* policy, Config& cfg) {
  ParentsConfig& parents = cfg.parents;
  if (const toml::node* n = root.get("parent")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr) {
      r.error(n->source(), "'parent' must be written as [[parent]] tables");
    } else {
      // The configured endpoints (the bound ones are checked again at each
      // connect: a port 0 becomes the kernel's choice).
      const auto self =
          arr->empty() ? acl::SelfAddresses{} : selfAddressesFor(configuredEndpoints(cfg));
      for (const toml::node& item : *arr) {
        if (const toml::table* t = item.as_table()) {
          readOne(r, *t, baseDir, policy, self, parents);
        } else {
          r.error(item.source(), "each [[parent]] must be a table");
        }
      }
    }
  }
  const toml::node* n = root.get("parents");
  if (n == nullptr) return;
  const toml::table* t = n->as_table();
  if (t == nullptr) {
    r.error(n->source(), "'parents' must be a table: [parents]");
    return;
  }
  r.getBool(*t, "never_direct", parents.neverDirect);
  r.getDuration(*t, "retry_after", parents.retryAfter);
  r.getDuration(*t, "check_interval", parents.checkInterval);
  if (parents.neverDirect && parents.list.empty()) {
    r.warning(t->get("never_direct")->source(),
              "'never_direct = true' without any [[parent]]: it has no effect");
  }
}

}  // namespace portcullis::config
