#pragma once
// The compiled access policy: first-match-wins rules over named source and
// destination sets, plus the hard rules no config can loosen. Pure: no I/O.
// Built once at config load; immutable and shared between threads after.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acl/ip_address.h"
#include "acl/self_addresses.h"
#include "acl/source_location.h"
#include "daemon/base/clock.h"

namespace portcullis::acl {

/// Everything known about a request when a decision is asked for.
struct RequestFacts {
  IpAddress client;
  std::string_view method;  ///< as sent, e.g. "GET", "CONNECT"
  std::string_view scheme;  ///< "http" (absolute-form) or "" for CONNECT
  std::string_view host;    ///< lower-case name or IP literal text
  uint16_t port = 0;
  bool isConnect = false;
  /// Addresses the host resolved to (or the literal). Empty = before DNS:
  /// only name-based conditions can decide, address conditions cannot match.
  std::span<const IpAddress> addresses;
  /// The authenticated user ("" = anonymous) and the groups it belongs to.
  std::string_view user;
  std::span<const std::string> groups;
  /// The instant the request is judged at (rules with when / unless / until):
  /// the daemon's clock, `explain --at`, or a logged request's time. The
  /// policy never reads a clock itself.
  SystemTime time{};
};

enum class Verdict { kAllow, kDeny };

/// A rule with `mode = "log"` that matched: what it would have decided had it
/// been enforced. Evaluation went on to the enforced rules after it.
struct WouldMatch {
  Verdict verdict = Verdict::kDeny;
  std::string rule;
  SourceLocation where;
};

struct Decision {
  Verdict verdict = Verdict::kDeny;
  /// Name of the rule that decided: a config rule's name, or a built-in
  /// one: "default-deny", "hard:port-25", "hard:connect-port",
  /// "hard:special-address", "hard:self".
  std::string rule;
  SourceLocation where;  ///< empty file for built-in rules
  std::string reason;    ///< one sentence for people: logs and the error page
  /// A deny of an anonymous request that a rule naming users would have
  /// allowed: answer 407 (log in), not 403.
  bool loginWouldHelp = false;
  /// Before DNS: an allow that the addresses could still turn (a rule with
  /// CIDRs matched "maybe" on the way). A request sent to a parent proxy
  /// without resolving the name must not rely on such an allow.
  bool addressesDecide = false;
  /// The first `mode = "log"` rule that matched before the deciding rule
  /// (logged as would_deny / would_allow); none when no such rule matched.
  std::optional<WouldMatch> would;

  bool allowed() const { return verdict == Verdict::kAllow; }
};

class PolicyImpl;

/// Thread-safe (const) after construction.
class Policy {
 public:
  explicit Policy(std::shared_ptr<const PolicyImpl> impl);
  Policy(const Policy&) = default;
  Policy& operator=(const Policy&) = default;
  ~Policy();

  /// At accept: false when no allow rule could ever match this client, so the
  /// connection can be answered 403 without reading further. The Decision
  /// names "default-deny" or the deny rule that names this source alone.
  Decision evaluateSource(const IpAddress& client) const;

  /// Before DNS (facts.addresses empty) or after it. Before DNS a kAllow only
  /// means "not refused yet": the caller must ask again with the addresses.
  /// After DNS, every address must be allowed for the answer to be kAllow;
  /// the hard rules (port 25, CONNECT ports, special ranges, our own listen
  /// addresses) are checked here too.
  Decision evaluate(const RequestFacts& facts) const;

  /// Whether destination set `index` matches the request on what is known
  /// before DNS (host name or IP literal, port, method, scheme); a set that
  /// only names CIDRs matches a name only "maybe", which is false here.
  bool destinationMatches(size_t index, const RequestFacts& facts) const;

  /// Our own listening addresses/ports: never a valid destination (loop).
  /// Call before sharing the policy between threads.
  void setSelfAddresses(SelfAddresses self);
  const SelfAddresses& selfAddresses() const { return self_; }

  /// The compiled sets and rules (for `portcullis explain` and analysis).
  const PolicyImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const PolicyImpl> impl_;
  SelfAddresses self_;
};

}  // namespace portcullis::acl
