#pragma once
// The immutable runtime configuration. Loaded from TOML by config_loader,
// validated in one pass, then shared read-only (shared_ptr<const Config>)
// and swapped atomically on reload.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "acl/cidr_set.h"
#include "acl/policy.h"
#include "cache/policy/cache_rules.h"
#include "daemon/auth/ldap_directory.h"
#include "daemon/auth/users_file.h"
#include "daemon/config/safe_search.h"

namespace portcullis::config {

struct ErrorPages;  // error_pages.h

using Seconds = std::chrono::milliseconds;  // durations are kept in ms

struct ListenAddress {
  std::string text;   ///< as written: "127.0.0.1:3128", "[::1]:3128"
  std::string host;   ///< IP literal, no brackets
  uint16_t port = 0;
};

/// What `workers = "auto"`, and an omitted `workers`, mean: one per CPU core.
inline unsigned autoWorkers() {
  return std::max(1u, std::thread::hardware_concurrency());
}

struct ServerConfig {
  std::vector<ListenAddress> listen;               ///< [server] listen
  /// [server] listen_transparent: connections the kernel redirected (nftables
  /// redirect or tproxy); the original destination decides where they go.
  std::vector<ListenAddress> listenTransparent;
  /// [server] transparent_tls_ports: original destination ports whose
  /// redirected connections carry TLS (decided by SNI, spliced), not HTTP.
  std::vector<uint16_t> transparentTlsPorts = {443};
  std::vector<ListenAddress> listenTls;  ///< [server] listen_tls: TLS proxy ports
  std::string tlsCertificate;  ///< PEM chain for listen_tls (absolute path); reloaded on SIGHUP
  std::string tlsKey;          ///< PEM private key for listen_tls (absolute path)
  unsigned workers = autoWorkers();  ///< resolved: "auto" (the default) -> cores
  uint32_t maxConnections = 10000;
  uint32_t maxConnectionsPerClient = 256;
  std::chrono::milliseconds headerTimeout{10000};      ///< whole request head (slowloris)
  std::chrono::milliseconds clientIdleTimeout{60000};  ///< keep-alive between requests
  std::chrono::milliseconds bodyTimeout{30000};        ///< no request/response body progress
  std::chrono::milliseconds connectTimeout{10000};     ///< upstream TCP connect
  std::chrono::milliseconds firstByteTimeout{30000};   ///< upstream response head
  std::chrono::milliseconds upstreamIdleTimeout{30000}; ///< pooled idle upstream connections
  std::chrono::milliseconds tunnelIdleTimeout{300000};
  std::chrono::milliseconds shutdownGrace{10000};
  /// On SIGTERM, keep accepting this long while /healthz says "draining",
  /// so a balancer stops sending first (HAProxy farm).
  std::chrono::milliseconds drainDelay{0};
  size_t bufferBytes = 256 * 1024;  ///< per-direction watermark per connection
  size_t maxRequestLine = 8192;
  size_t maxHeaderBytes = 65536;
  std::string viaPseudonym = "portcullis";  ///< our Via received-by; loop detection
  std::string user;                  ///< drop privileges to this user when started as root
  std::shared_ptr<const ErrorPages> errorPages;  ///< [server] error_pages; null: built-in page
  std::string errorContact;  ///< [server] error_contact: who to ask, shown on error pages
  std::string organisation;  ///< [server] organisation: the school's name, shown on error pages
  std::string pidFile;       ///< written after binding, removed on clean exit; "" = none
  /// Load balancers whose connections start with a PROXY protocol header
  /// (v1 or v2) carrying the real client; required from them, never read
  /// from anyone else.
  acl::CidrSet proxyProtocolFrom;
  bool sniCheck = true;  ///< [server] sni_check: read the ClientHello of CONNECT tunnels
  std::chrono::milliseconds sniTimeout{10000};  ///< wait for the first client bytes
  size_t sniMaxBytes = 16384;                   ///< largest ClientHello (and records) read
};

struct DnsConfig {
  std::vector<std::string> nameservers;  ///< empty: /etc/resolv.conf
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds minTtl{1000};
  std::chrono::milliseconds maxTtl{300000};
  std::chrono::milliseconds negativeTtl{5000};
  bool useHostsFile = true;
};

enum class EvictionPolicy { kLru, kS3Fifo };
enum class FsyncPolicy { kNever, kAlways };

struct CacheConfig {
  bool enabled = false;
  std::string dir;
  uint64_t maxSize = 1ull << 30;
  uint64_t maxObjectSize = 64ull << 20;
  uint64_t memorySize = 256ull << 20;         ///< RAM tier for small bodies; 0 = off
  uint64_t memoryMaxObjectSize = 1ull << 20;  ///< largest body kept in RAM
  uint64_t minFreeDisk = 1ull << 30;
  EvictionPolicy eviction = EvictionPolicy::kS3Fifo;
  FsyncPolicy fsync = FsyncPolicy::kNever;
  bool collapsedForwarding = true;
  bool serveStaleOnError = true;
  std::chrono::milliseconds maxStaleOnError{86400000};
  uint64_t rangeFetchWholeMax = 16ull << 20;  ///< range miss fetches whole object up to this size
  /// A fill whose client left is finished when at most this much is left; 0 = off.
  uint64_t fillAfterAbort = 8ull << 20;
  /// Sliced storage (cache/policy/slice_plan.h): slice length; 0 = off.
  uint64_t sliceSize = 1ull << 20;
  /// Responses with a known length above this are stored as slices.
  uint64_t sliceAbove = 16ull << 20;
  /// [[cache.refresh]] and [[cache.alias]]; never null once loaded.
  std::shared_ptr<const cache::policy::CacheRules> rules =
      std::make_shared<const cache::policy::CacheRules>();
};

enum class LogFormat { kJson, kSquid, kCombined };

struct LogConfig {
  std::string access;   ///< path; "" = off; "-" = stdout
  LogFormat accessFormat = LogFormat::kJson;
  std::string events = "-";  ///< path; "-" = stderr
};

struct AdminConfig {
  std::string listen = "127.0.0.1:3129";  ///< "" = off; "unix:/path" for a Unix socket
  std::vector<std::string> allow = {"127.0.0.1/32", "::1/128"};
};

/// Scanner defence: a client refused again and again is blocked at accept.
struct AbuseConfig {
  uint32_t refusalsToBlock = 20;  ///< refusals within the window that start a block; 0 = off
  std::chrono::milliseconds refusalWindow{60000};
  std::chrono::milliseconds blockTime{600000};
  /// Also block clients inside an allowed source set. Off by default: a
  /// classroom PC that keeps hitting the blocklist must not lose the web.
  bool blockAllowedSources = false;
};

/// A per-client "delay pool" for the clients of one source set.
struct RateLimitConfig {
  std::string name;
  std::string from;        ///< source set name
  size_t sourceIndex = 0;  ///< index into the policy's source sets
  double requestsPerSecond = 0;  ///< 0 = no request limit
  double burst = 0;              ///< bucket size; default 2 x rate
  uint64_t bandwidth = 0;        ///< bytes per second per connection; 0 = unlimited
};

/// [pac]: the proxy auto-config file browsers fetch (/proxy.pac, /wpad.dat),
/// generated from this config (daemon/pac).
struct PacConfig {
  std::vector<ListenAddress> listen;  ///< empty: not served (`portcullis pac` still prints it)
  std::vector<size_t> clients;        ///< source sets allowed to fetch it (policy indexes)
  /// PAC proxy entries in order, e.g. "HTTPS proxy.example:3130",
  /// "PROXY proxy.example:3128"; from server.listen when not configured.
  std::vector<std::string> proxies;
  std::vector<size_t> direct;   ///< destination sets sent DIRECT (policy indexes)
  bool fallbackDirect = false;  ///< "; DIRECT" after the proxies: the proxy down = no filter
};

/// What the CONNECT SNI check does with a case it cannot judge by name.
enum class TlsChoice { kAllow, kDeny };

/// [[sni]]: the SNI check's choices for the clients of one source set.
struct SniRuleConfig {
  std::string from;                     ///< source set name
  size_t sourceIndex = 0;               ///< index into the policy's source sets
  bool check = true;                    ///< false: tunnels of these clients are relayed unread
  TlsChoice noSni = TlsChoice::kDeny;   ///< a ClientHello without server_name
  TlsChoice notTls = TlsChoice::kDeny;  ///< bytes that are not TLS, on port 443
  TlsChoice ech = TlsChoice::kAllow;    ///< encrypted_client_hello offered (outer SNI judged)
};

/// [auth]: proxy authentication (RFC 9110 §11.7.1) from a users file.
struct AuthConfig {
  std::string usersFile;  ///< absolute path; "" = no authentication
  std::string realm = "Portcullis";
  std::chrono::milliseconds cacheTtl{300000};  ///< how long a verified login is remembered
  uint32_t maxFailures = 5;                    ///< failed logins per client per window, then 429
  std::chrono::milliseconds failureWindow{60000};
  unsigned verifierThreads = 2;
  /// The users file as loaded (name -> hash); null when usersFile is "".
  std::shared_ptr<const auth::UsersFile> users;
  /// [auth.ldap]: logins checked against a directory; null when not set.
  /// Exclusive with users (the loader refuses both).
  std::shared_ptr<const auth::LdapDirectory> ldap;
  /// [groups] and groups_file: group -> members, user -> groups.
  std::shared_ptr<const auth::Groups> groups = std::make_shared<const auth::Groups>();
  /// Source sets whose clients may send credentials on the plain port.
  std::vector<size_t> plaintextSources;

  bool enabled() const { return users != nullptr || ldap != nullptr; }
};

/// [[parent]]: a parent proxy (like Squid's cache_peer ... parent) that
/// requests for its destination sets are sent through (parent_loader.cpp).
struct ParentConfig {
  std::string name;
  std::string address;  ///< as written, "host:port"
  std::string host;     ///< IP literal (no brackets) or lower-case host name
  uint16_t port = 0;
  /// `host` is a name: resolved by the worker's resolver at each connect
  /// (its DNS cache honours the TTLs), never at load.
  bool hostIsName = false;
  std::string username;  ///< "" = no credentials sent
  /// "Basic <base64(user:password)>" for Proxy-Authorization to this parent
  /// only (RFC 9110 §11.7.1); never logged. "" = none.
  std::string authorization;
  uint32_t weight = 1;     ///< share of the hashed (cacheable) requests
  std::vector<size_t> to;  ///< destination sets (policy indexes); empty = every request
  bool tls = false;        ///< the connection to the parent is TLS (its listen_tls port)
  std::string tlsCa;       ///< PEM CA file (absolute path); "" = the system trust store
  std::string tlsName;     ///< name its certificate must carry; default the address' host
                           ///< (the name when it is one, else the IP)
};

/// [parents]: what applies to every [[parent]].
struct ParentsConfig {
  std::vector<ParentConfig> list;  ///< [[parent]] in file order
  /// Never go direct when every parent that applies is down: 502 instead.
  bool neverDirect = false;
  Seconds retryAfter{30000};     ///< a parent that failed is skipped this long
  Seconds checkInterval{10000};  ///< active TCP check of every parent; 0 = passive only
};

struct Config {
  std::string path;  ///< the file it was loaded from
  ServerConfig server;
  DnsConfig dns;
  CacheConfig cache;
  LogConfig log;
  AdminConfig admin;
  AbuseConfig abuse;
  std::vector<RateLimitConfig> limits;  ///< first whose source set holds the client applies
  PacConfig pac;
  std::vector<SniRuleConfig> sni;          ///< first whose source set holds the client applies
  std::vector<SafeSearchRule> safeSearch;  ///< [[safe_search]]; first matching source set applies
  AuthConfig auth;
  ParentsConfig parents;
  std::shared_ptr<const acl::Policy> policy;
};

}  // namespace portcullis::config
