// The one host[:port] parser. Its table holds the union of what the copies
// it replaced accepted and refused: the request-target/Host parser of uri.cpp,
// config::parseListenAddress, admin::AdminAddress::parse, net::SocketAddress::
// parse, audit::parseHostPort, explain's splitAuthority and the admin Host
// check. Where they disagreed, the row says which way it went.
#include "daemon/http/host_port.h"

#include <doctest/doctest.h>

#include <string>

using namespace portcullis::http;

namespace {

// The rule sets the callers use.
constexpr HostPortRules kTarget{};                                         // CONNECT, audit --proxy
const HostPortRules kHostField{.portRequired = false, .defaultPort = 80};  // Host, explain URL
constexpr HostPortRules kListen{.portRequired = true, .portZeroAllowed = true, .ipOnly = true};
constexpr HostPortRules kNameserver{.portRequired = true, .ipOnly = true};

struct Row {
  const char* in;
  const HostPortRules* rules;
  const char* host;  // nullptr: refused
  uint16_t port = 0;
  bool ip = false;  // isIpLiteral
  const char* authority = "";
  const char* error = "";  // for refusals: a substring of the message
};

}  // namespace

TEST_CASE("parseHostPort table") {
  const std::string longLabel = std::string(64, 'a') + ".example:80";
  const Row rows[] = {
      // Names and ports.
      {"proxy.example:8080", &kTarget, "proxy.example", 8080, false, "proxy.example:8080"},
      {"EXAMPLE.com:443", &kTarget, "example.com", 443, false, "example.com:443"},
      {"Example.com", &kHostField, "example.com", 80, false, "example.com:80"},
      {"localhost:3129", &kHostField, "localhost", 3129, false, "localhost:3129"},
      {"a_b.example:1", &kTarget, "a_b.example", 1, false, "a_b.example:1"},
      {"example.com.:80", &kTarget, "example.com.", 80, false, "example.com.:80"},
      {"a:00080", &kTarget, "a", 80, false, "a:80"},
      {"a:65535", &kTarget, "a", 65535, false, "a:65535"},
      // IPv4 and IPv6 literals; IPv6 in canonical RFC 5952 text.
      {"127.0.0.1:3128", &kTarget, "127.0.0.1", 3128, true, "127.0.0.1:3128"},
      {"127.0.0.1", &kHostField, "127.0.0.1", 80, true, "127.0.0.1:80"},
      {"[::1]:3128", &kTarget, "::1", 3128, true, "[::1]:3128"},
      {"[2001:DB8:0::7]:443", &kTarget, "2001:db8::7", 443, true, "[2001:db8::7]:443"},
      {"[::ffff:192.0.2.1]:80", &kListen, "::ffff:192.0.2.1", 80, true, "[::ffff:192.0.2.1]:80"},
      {"[::1]", &kHostField, "::1", 80, true, "[::1]:80"},
      {"0.0.0.0:3128", &kListen, "0.0.0.0", 3128, true, "0.0.0.0:3128"},
      {"[::]:1", &kListen, "::", 1, true, "[::]:1"},
      // Port 0: a listen address may ask the kernel for a port; nothing else.
      {"[::1]:0", &kListen, "::1", 0, true, "[::1]:0"},
      {"127.0.0.1:0", &kTarget, nullptr, 0, false, "", "'0' is not a port from 1 to 65535"},
      {"a:0", &kHostField, nullptr},
      {"192.0.2.53:0", &kNameserver, nullptr},  // was accepted (through parseListenAddress)
      // Bad ports.
      {"127.0.0.1:65536", &kTarget, nullptr, 0, false, "", "'65536' is not a port"},
      {"1.2.3.4:65536", &kListen, nullptr, 0, false, "", "'65536' is not a port from 0 to 65535"},
      {"127.0.0.1:80x", &kTarget, nullptr},
      {"1.2.3.4:-1", &kListen, nullptr},
      {"a:+80", &kTarget, nullptr},
      {"a:000080", &kTarget, nullptr},
      {"a:99999999999", &kTarget, nullptr},
      {"127.0.0.1:", &kTarget, nullptr, 0, false, "", "empty port"},
      {"1.2.3.4:", &kHostField, nullptr},
      // A port where one is required.
      {"127.0.0.1", &kTarget, nullptr, 0, false, "", "missing :PORT in '127.0.0.1'"},
      {"3128", &kListen, nullptr},
      {"[::1]", &kListen, nullptr},
      {"a.example", &kTarget, nullptr},
      // Brackets.
      {"::1:3128", &kTarget, nullptr, 0, false, "", "written in brackets"},
      {"::1:80", &kListen, nullptr},  // net::SocketAddress::parse read it as [::1]:80
      {"::1", &kHostField, nullptr},
      {"[::1]3128", &kListen, nullptr, 0, false, "", "junk after IPv6 literal"},
      {"[::1:80", &kTarget, nullptr, 0, false, "", "unterminated IPv6 literal"},
      {"[]:80", &kTarget, nullptr, 0, false, "", "empty host"},
      {"[fe80::1%eth0]:80", &kTarget, nullptr},  // no zone id
      {"[v1.x]:80", &kTarget, nullptr},          // no IPvFuture
      {"[192.0.2.1]:80", &kTarget, nullptr},     // IPv4 is not an IP-literal
      // Hosts.
      {":3128", &kTarget, nullptr, 0, false, "", "empty host"},
      {":80", &kListen, nullptr},
      {"", &kHostField, nullptr},
      {"a b", &kHostField, nullptr, 0, false, "", "invalid character in host"},
      {" a:80", &kTarget, nullptr},
      {"exa%6dple.com:443", &kTarget, nullptr},
      {"u@a:80", &kTarget, nullptr, 0, false, "", "userinfo"},
      {"a..b:80", &kTarget, nullptr, 0, false, "", "invalid host name"},
      {"a.123:80", &kTarget, nullptr, 0, false, "", "ambiguous numeric host name"},
      {"a.0x1f:80", &kTarget, nullptr},
      {"01.2.3.4:80", &kTarget, nullptr, 0, false, "", "invalid IPv4 address"},  // octal?
      {"1.2.3:80", &kTarget, nullptr},
      {"256.1.1.1:80", &kTarget, nullptr},
      {"999.1.1.1:3128", &kTarget, nullptr},  // audit used to pass it to getaddrinfo
      {longLabel.c_str(), &kTarget, nullptr, 0, false, "", "invalid host name"},
      // IP literals only: listen, admin and nameserver addresses.
      {"host:80", &kListen, nullptr, 0, false, "", "'host' is not an IP address"},
      {"localhost:3129", &kListen, nullptr},
      {"localhost:53", &kNameserver, nullptr},
      {"192.0.2.53:5353", &kNameserver, "192.0.2.53", 5353, true, "192.0.2.53:5353"},
  };
  for (const Row& r : rows) {
    SUBCASE(r.in) {
      const auto hp = parseHostPort(r.in, *r.rules);
      REQUIRE(hp.ok() == (r.host != nullptr));
      if (!hp.ok()) {
        CHECK(hp.error().status == 400);
        CHECK(hp.error().message.find(r.error) != std::string::npos);
        continue;
      }
      CHECK(hp->host == r.host);
      CHECK(hp->port == r.port);
      CHECK(hp->isIpLiteral == r.ip);
      CHECK(hp->isIpv6 == (std::string(r.host).find(':') != std::string::npos));
      CHECK(hp->authority() == r.authority);
    }
  }
}

TEST_CASE("parseHostPort: the longest host name is 253 bytes (one trailing dot more)") {
  std::string name;
  while (name.size() < 253) name += (name.empty() ? "" : ".") + std::string(9, 'a');
  name.resize(253);
  if (name.back() == '.') name.back() = 'b';
  CHECK(parseHostPort(name + ":80", kTarget).ok());
  CHECK(parseHostPort(name + ".:80", kTarget).ok());
  CHECK_FALSE(parseHostPort(name + "b.:80", kTarget).ok());
}
