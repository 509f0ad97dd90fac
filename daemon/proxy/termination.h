#pragma once
// Why an exchange ended, as one enum, and one table that says what each kind
// means everywhere it shows: the status code and page title the client gets,
// the RFC 9209 Proxy-Status error type, the access log's `termination` field
// and the /metrics label. In the manner of HAProxy's termination flags: every
// log line says why and how a request ended, and no reply is built by hand.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::proxy {

struct ErrorReply;

enum class Termination : uint8_t {
  kCompleted,              ///< answered in full, by the origin or the cache
  kDeniedByRule,           ///< an ACL rule (or a hard rule on the name) refused it
  kAuthRequired,           ///< a rule would allow it with a login: 407, RFC 9110 §15.5.8
  kDestinationProhibited,  ///< hard rule after DNS: special range, the proxy itself
  kRateLimited,            ///< the client's [[limit]] request rate
  kBadRequest,             ///< unparsable or ambiguous request (400, 414, 431, 505)
  kNotAProxyRequest,       ///< origin-form sent to a forward proxy
  kMethodNotSupported,     ///< a method the proxy does not relay (501)
  kHttpsWithoutConnect,    ///< absolute-form https:// (501)
  kForwardingLoop,         ///< Via names us (508)
  kClientTimeout,          ///< the request head or body stopped arriving (408)
  kClientClosed,           ///< the client went away; nothing more could be sent
  kDnsError,               ///< the name does not resolve
  kDnsTimeout,             ///< the resolver did not answer in time
  kConnectRefused,         ///< no address of the origin accepted the connection
  kConnectTimeout,         ///< connecting to the origin timed out
  kOriginTimeout,          ///< the origin accepted but sent no response head in time
  kOriginClosed,           ///< the origin closed before a response head
  kBadOriginResponse,      ///< an origin response the proxy will not pass on
  kOriginBodyBroken,       ///< the response body broke after its head went out
  kNotInCache,             ///< only-if-cached and nothing usable stored (504)
  kPreconditionFailed,     ///< a stored response fails the request's preconditions (412)
  kStorageError,           ///< the cache could not be read while serving
  kTransparentMismatch,    ///< transparent mode: Host or SNI disagrees with the destination (409)
  kAuthUnavailable,        ///< the login backend (LDAP) could not answer (503)
  /// An open tunnel or streaming response the rules no longer allow (a
  /// schedule closed, an `until` passed, a reload): cut, no reply.
  kClosedByPolicy,
};

inline constexpr size_t kTerminationKinds = static_cast<size_t>(Termination::kClosedByPolicy) + 1;

struct TerminationInfo {
  std::string_view name;         ///< log field and metrics label: "denied_by_rule"
  int status;                    ///< status of the reply; 0 = no reply (the connection ends)
  std::string_view proxyStatus;  ///< RFC 9209 §2.3 error type; empty = none
  std::string_view title;        ///< the error page's heading
};

/// The table row for `kind`.
const TerminationInfo& describe(Termination kind);

/// The reply for `kind`: status, Proxy-Status error and title from the
/// table; `message` is the sentence for people, `detail` goes into
/// Proxy-Status details and the log's `error`. `status` overrides the
/// table's for kinds that cover several codes (kBadRequest: 414, 431, 505).
ErrorReply errorReply(Termination kind, std::string message, std::string detail = {},
                      int status = 0);

}  // namespace portcullis::proxy
