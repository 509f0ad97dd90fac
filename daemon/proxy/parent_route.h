#pragma once
// The parents one request goes through: which [[parent]] entries apply to
// it (their destination sets), in the order parent_selection.h gives, with
// the few values the upstream request needs copied out of the snapshot.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "acl/policy.h"
#include "daemon/config/config.h"
#include "daemon/http/uri.h"
#include "daemon/net/socket_address.h"
#include "daemon/net/tls_client_context.h"
#include "daemon/proxy/parent_health.h"

namespace portcullis::proxy {

/// One parent to try.
struct ParentHop {
  std::string name;
  /// Where to connect: the parent's IP literal, or (hostName set) the
  /// address its name resolved to for this request.
  net::SocketAddress address;
  std::string hostName;          ///< the [[parent]] address' name; "" = an IP literal
  uint16_t port = 0;             ///< the [[parent]] address' port
  std::string authorization;     ///< Proxy-Authorization value for it; "" = none
  ParentState* state = nullptr;  ///< null when the worker keeps no health (tests)
  bool tls = false;              ///< connect with TLS ([[parent]] tls)
  std::string tlsName;           ///< the name its certificate must carry
  std::shared_ptr<const net::TlsClientContext> tlsContext;  ///< null with tls: cannot connect
};

struct ParentRoute {
  std::vector<ParentHop> hops;  ///< in order; empty = direct
  bool applies = false;         ///< some [[parent]] is for this request (all may be down)
};

/// The route for a request admitted with `facts` (before DNS). `hashed`:
/// a cacheable request, spread by its `url`. With [parents] never_direct,
/// parents that are down are still tried last rather than going direct.
ParentRoute chooseParents(const config::Config& config, const acl::RequestFacts& facts, bool hashed,
                          std::string_view url, ParentHealth* health,
                          std::chrono::steady_clock::time_point now);

/// A head built for the origin (origin-form, Host set, hop-by-hop fields
/// and the client's Proxy-Authorization removed) turned into the one for
/// `hop`: the request-target in absolute form (RFC 9112 §3.2.2) and our
/// own Proxy-Authorization for that parent, if it has credentials.
std::string toParentHead(std::string head, const http::Target& target, const ParentHop& hop);

}  // namespace portcullis::proxy
