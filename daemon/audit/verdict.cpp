#include "daemon/audit/verdict.h"

#include <charconv>

namespace portcullis::audit {
namespace {

bool is2xx(int status) {
  return status >= 200 && status <= 299;
}
bool is4xx(int status) {
  return status >= 400 && status <= 499;
}

std::string canaryEvidence(const CanaryObservation& c) {
  std::string out;
  if (c.bytes == 0) {
    out = "canary accepted " + std::to_string(c.connections) + " connection(s) from the proxy";
  } else {
    out = "canary saw " + std::to_string(c.bytes) + " bytes: " + printable(c.firstLine);
  }
  if (c.sawMailFrom) out += " (MAIL FROM arrived)";
  return out;
}

std::string answerText(const ProxyAnswer& a) {
  switch (a.kind) {
    case ProxyAnswer::Kind::kStatus:
      return printable(a.statusLine);
    case ProxyAnswer::Kind::kClosed:
      return "proxy closed without a status line";
    case ProxyAnswer::Kind::kTimeout:
      return "no answer before the deadline";
    case ProxyAnswer::Kind::kConnectFailed:
      return "could not connect to the proxy";
    case ProxyAnswer::Kind::kNotHttp:
      return "not HTTP: " + printable(a.statusLine);
  }
  return "?";
}

/// The rule for an HTTP status, once the canaries have nothing to say.
Judgement judgeStatus(ProbeKind kind, const ProxyAnswer& a) {
  const std::string said = answerText(a);
  switch (kind) {
    case ProbeKind::kConnectCanary:
    case ProbeKind::kConnectSelf:
    case ProbeKind::kPort25:
      // RFC 9110 §9.3.6: any 2xx to CONNECT means the tunnel is up.
      if (is2xx(a.status)) return {Verdict::kRelayed, said + " (proxy agreed to relay)"};
      return {Verdict::kRefused, said};
    case ProbeKind::kRequestCanary:
      if (is2xx(a.status) && a.bodyHasToken) {
        return {Verdict::kRelayed, said + " with the canary's token in the body"};
      }
      if (is2xx(a.status)) {
        return {Verdict::kInconclusive,
                said + " but the canary saw nothing (another server answered?)"};
      }
      return {Verdict::kRefused, said};
    case ProbeKind::kMetadata:
      if (is2xx(a.status)) return {Verdict::kRelayed, said};
      if (is4xx(a.status)) return {Verdict::kRefused, said};
      if (a.status == 502 || a.status == 504) {
        // An open proxy with no route to 169.254.169.254 answers exactly so.
        return {Verdict::kInconclusive, said + " (inconclusive: could not reach)"};
      }
      return {Verdict::kInconclusive, said};
  }
  return {Verdict::kInconclusive, said};
}

}  // namespace

std::string_view verdictName(Verdict v) {
  switch (v) {
    case Verdict::kRefused:
      return "refused";
    case Verdict::kRelayed:
      return "relayed";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

std::optional<int> parseStatusCode(std::string_view line) {
  // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
  constexpr std::string_view kPrefix = "HTTP/1.";
  if (line.size() < 12 || line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  if (line[7] < '0' || line[7] > '9' || line[8] != ' ') return std::nullopt;
  std::string_view code = line.substr(9, 3);
  int value = 0;
  for (char ch : code) {
    if (ch < '0' || ch > '9') return std::nullopt;
  }
  std::from_chars(code.data(), code.data() + code.size(), value);
  if (line.size() > 12 && line[12] != ' ') return std::nullopt;
  if (value < 100) return std::nullopt;
  return value;
}

Judgement judge(ProbeKind kind, const ProxyAnswer& answer, const CanaryObservation& canary) {
  if (canary.connections > 0 || canary.bytes > 0) {
    // Our own listener saw the proxy arrive: nothing is stronger than that.
    return {Verdict::kRelayed, canaryEvidence(canary) + "; proxy: " + answerText(answer)};
  }
  switch (answer.kind) {
    case ProxyAnswer::Kind::kStatus:
      return judgeStatus(kind, answer);
    case ProxyAnswer::Kind::kClosed:
      return {Verdict::kRefused, answerText(answer)};
    case ProxyAnswer::Kind::kTimeout:
    case ProxyAnswer::Kind::kConnectFailed:
    case ProxyAnswer::Kind::kNotHttp:
      return {Verdict::kInconclusive, answerText(answer)};
  }
  return {Verdict::kInconclusive, answerText(answer)};
}

std::string printable(std::string_view raw, size_t maxLength) {
  std::string out;
  const bool cut = raw.size() > maxLength;
  if (cut) raw = raw.substr(0, maxLength);
  out.reserve(raw.size() + 3);
  for (unsigned char ch : raw) out.push_back(ch >= 0x20 && ch < 0x7f ? static_cast<char>(ch) : '.');
  if (cut) out += "...";
  return out;
}

}  // namespace portcullis::audit
