#pragma once
// Pure verdict logic of `portcullis audit`: what the proxy answered plus what
// the canaries saw -> refused / relayed / inconclusive. No sockets here, so
// every rule is a table test (tests/unit/proxy/audit_verdict_test.cpp).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::audit {

/// The outcome of one probe, from the prober's point of view.
enum class Verdict {
  kRefused,       ///< the proxy declined: a refusing status, or it closed
  kRelayed,       ///< bytes reached a canary, or the proxy agreed to tunnel
  kInconclusive,  ///< no answer in time, or an answer that proves nothing
};

/// "refused", "relayed", "inconclusive".
std::string_view verdictName(Verdict v);

/// How a probe's expected evidence is judged.
enum class ProbeKind {
  kConnectCanary,  ///< CONNECT to one of our canaries: 2xx or canary contact = relayed
  kRequestCanary,  ///< absolute-form request to a canary: canary contact = relayed
  kPort25,         ///< CONNECT/POST to 127.0.0.1:25: 2xx = relayed, any other answer = refused
  kMetadata,       ///< GET 169.254.169.254: 2xx relayed, 4xx refused, 502/504 inconclusive
  kConnectSelf,    ///< CONNECT to the proxy's own address: 2xx = relayed
};

/// What came back on the client side of the proxy.
struct ProxyAnswer {
  enum class Kind {
    kStatus,         ///< an HTTP status line was read
    kClosed,         ///< the proxy closed (or reset) before a status line
    kTimeout,        ///< no status line before the probe's deadline
    kConnectFailed,  ///< we could not even connect to the proxy
    kNotHttp,        ///< bytes arrived that are no HTTP status line
  };
  Kind kind = Kind::kTimeout;
  int status = 0;             ///< when kind == kStatus
  std::string statusLine;     ///< the first line received, as is (kStatus, kNotHttp)
  bool bodyHasToken = false;  ///< the canary's random token came back in the body
};

/// What the canary (if the probe aims at one) recorded while the probe ran.
struct CanaryObservation {
  size_t connections = 0;    ///< connections accepted
  size_t bytes = 0;          ///< bytes received over all of them
  std::string firstLine;     ///< first line received (no CRLF), raw bytes
  bool sawMailFrom = false;  ///< an SMTP "MAIL FROM" command arrived (SMTP canary)
};

/// A verdict and the evidence for it, in words for a person.
struct Judgement {
  Verdict verdict = Verdict::kInconclusive;
  std::string evidence;
};

/// The status code of an HTTP/1.x status line ("HTTP/1.1 403 Forbidden" ->
/// 403), lenient about the reason phrase; nullopt when it is none.
std::optional<int> parseStatusCode(std::string_view statusLine);

/// Judges one probe. Canary contact is the strongest evidence and wins over
/// any status; a 2xx to a CONNECT is relayed (the proxy agreed to tunnel).
Judgement judge(ProbeKind kind, const ProxyAnswer& answer, const CanaryObservation& canary);

/// Replaces every byte that could drive a terminal or break a table line
/// (controls, DEL, non-ASCII) with '.', and cuts to `maxLength` bytes with
/// "..." appended. Untrusted bytes from the proxy and canaries go through it.
std::string printable(std::string_view raw, size_t maxLength = 80);

}  // namespace portcullis::audit
