#pragma once
// One access-log record, read back for a replay: who asked for what, when,
// and what the proxy decided. Pure: built from a parsed JSON line.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "acl/ip_address.h"
#include "acl/policy.h"
#include "daemon/base/clock.h"

namespace portcullis::replay {

class FlatJson;

/// Where the addresses a replay decides on came from.
enum class AddressSource {
  kNone,      ///< not known: decided by name only (as before DNS)
  kLiteral,   ///< the host is an IP literal
  kLogged,    ///< the line's "addresses" (every address the rules checked)
  kUpstream,  ///< the line's "upstream" (older logs: the one address connected)
};

/// The request facts and the logged outcome of one access-log line.
struct LoggedRequest {
  size_t line = 0;        ///< 1-based line number in the log
  SystemTime start;       ///< "ts"
  acl::IpAddress client;  ///< "client" without the port
  std::string user;       ///< "" = anonymous
  std::string method;     ///< as logged
  std::string url;        ///< as logged: absolute URL or host:port
  std::string scheme;     ///< "http"; "" for CONNECT
  std::string host;       ///< lower-case name or IP literal, no brackets
  uint16_t port = 0;
  bool isConnect = false;
  /// False when the URL does not parse (a request refused as malformed,
  /// before any rule): nothing to replay.
  bool targetOk = false;
  std::vector<acl::IpAddress> addresses;
  AddressSource addressSource = AddressSource::kNone;
  int status = 0;
  acl::Verdict loggedVerdict = acl::Verdict::kDeny;  ///< "decision"
  std::string loggedRule;                            ///< "rule"
  std::string loggedWould;                           ///< "would_deny"/"would_allow" rule
};

/// Reads `json` (one parsed access-log line) into `out`. Returns "" or why
/// the line is no access record ("no 'client'", "bad URL ...").
std::string readLoggedRequest(const FlatJson& json, LoggedRequest& out);

/// "2026-11-28T20:50:49.123Z" (RFC 3339 UTC as the log writes it).
bool parseTimestamp(std::string_view text, SystemTime& out);

}  // namespace portcullis::replay
