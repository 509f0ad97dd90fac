#include "daemon/audit/audit.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>

#include "daemon/audit/canary.h"
#include "daemon/audit/probe_plan.h"
#include "daemon/audit/report.h"
#include "daemon/audit/verdict.h"
#include "daemon/cli/blocking_socket.h"
#include "daemon/config/units.h"
#include "daemon/http/host_port.h"

namespace portcullis::audit {
namespace {

using cli::connectTo;
using cli::Endpoint;
using cli::ReadEnd;
using cli::readUntil;
using cli::sendAll;
using std::chrono::milliseconds;

constexpr milliseconds kMaxTimeout = std::chrono::minutes(5);
// How long a probe waits for the canary's connections to end after the
// proxy answered; returns at once when the canary saw nothing.
constexpr milliseconds kSettle{1000};

std::string randomToken() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::string_view firstLine(std::string_view bytes) {
  return bytes.substr(0, bytes.find_first_of("\r\n"));
}

/// True once the response head is complete, or once it is clear that the
/// answer is not HTTP at all (no need to wait for a blank line then).
bool headDone(std::string_view b) {
  if (b.find("\r\n\r\n") != std::string_view::npos || b.find("\n\n") != std::string_view::npos) {
    return true;
  }
  return b.find('\n') != std::string_view::npos && !parseStatusCode(firstLine(b));
}

size_t headLength(std::string_view b) {
  const size_t crlf = b.find("\r\n\r\n");
  if (crlf != std::string_view::npos) return crlf + 4;
  const size_t lf = b.find("\n\n");
  return lf == std::string_view::npos ? b.size() : lf + 2;
}

/// Content-Length of a response head, or nullopt (read to close then).
std::optional<size_t> contentLength(std::string_view head) {
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const size_t at = lower.find("\ncontent-length:");
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + 16;
  while (i < lower.size() && lower[i] == ' ') ++i;
  size_t value = 0;
  bool any = false;
  for (; i < lower.size() && lower[i] >= '0' && lower[i] <= '9' && value < (1u << 30);
       ++i, any = true) {
    value = value * 10 + static_cast<size_t>(lower[i] - '0');
  }
  return any ? std::optional<size_t>(value) : std::nullopt;
}

ProxyAnswer classify(std::string_view buffer, ReadEnd end) {
  ProxyAnswer a;
  if (buffer.empty()) {
    a.kind = end == ReadEnd::kClosed ? ProxyAnswer::Kind::kClosed : ProxyAnswer::Kind::kTimeout;
    return a;
  }
  a.statusLine = std::string(firstLine(buffer));
  if (auto code = parseStatusCode(a.statusLine)) {
    a.kind = ProxyAnswer::Kind::kStatus;
    a.status = *code;
  } else {
    a.kind = ProxyAnswer::Kind::kNotHttp;
  }
  return a;
}

struct Canaries {
  std::unique_ptr<Canary> smtp, http, line;
  Canary* of(CanaryTarget t) const {
    switch (t) {
      case CanaryTarget::kSmtp:
        return smtp.get();
      case CanaryTarget::kHttp:
        return http.get();
      case CanaryTarget::kLine:
        return line.get();
      case CanaryTarget::kNone:
        break;
    }
    return nullptr;
  }
};

/// Talks to the proxy for one probe; fills `answer` and returns any extra
/// evidence (what came back through a tunnel).
std::string exchange(const ProbeSpec& spec, const std::vector<Endpoint>& proxy, Deadline deadline,
                     const std::string& token, ProxyAnswer& answer) {
  auto fd = connectTo(proxy, deadline);
  if (!fd.ok()) {
    answer.kind = ProxyAnswer::Kind::kConnectFailed;
    return "";
  }
  std::string buffer;
  if (!sendAll(fd->get(), spec.request, deadline).ok()) {
    // The proxy may have answered and closed before reading everything.
    readUntil(fd->get(), buffer, deadline, headDone);
    answer = classify(buffer, ReadEnd::kClosed);
    return "";
  }
  const ReadEnd end = readUntil(fd->get(), buffer, deadline, headDone);
  answer = classify(buffer, end);
  const bool ok2xx = answer.kind == ProxyAnswer::Kind::kStatus && answer.status / 100 == 2;
  if (!ok2xx || (end != ReadEnd::kDone && end != ReadEnd::kFull)) return "";
  const size_t head = headLength(buffer);
  if (spec.connect) {
    if (spec.tunnelPayload.empty()) return "";
    std::string tunnel = buffer.substr(head);
    if (!sendAll(fd->get(), spec.tunnelPayload, deadline).ok()) return "";
    readUntil(
        fd->get(), tunnel, deadline, [](std::string_view) { return false; }, 4096);
    if (tunnel.empty()) return "";
    return "; through the tunnel: " + printable(firstLine(tunnel));
  }
  const auto length = contentLength(std::string_view(buffer).substr(0, head));
  readUntil(fd->get(), buffer, deadline, [&](std::string_view b) {
    return b.find(token) != std::string_view::npos || (length && b.size() >= head + *length);
  });
  answer.bodyHasToken = buffer.find(token, head) != std::string::npos;
  return "";
}

ProbeResult runProbe(const ProbeSpec& spec, const std::vector<Endpoint>& proxy, Deadline deadline,
                     milliseconds settle, const Canaries& canaries, const std::string& token) {
  Canary* canary = canaries.of(spec.canary);
  if (canary != nullptr) canary->reset();
  ProxyAnswer answer;
  const std::string extra = exchange(spec, proxy, deadline, token, answer);
  CanaryObservation seen;
  if (canary != nullptr) seen = canary->settle(SteadyClock::now() + settle);
  Judgement j = judge(spec.kind, answer, seen);
  return ProbeResult{spec.name, spec.sent, j.verdict, j.evidence + extra};
}

Result<Canaries> startCanaries(const std::string& token) {
  Canaries c;
  auto smtp = Canary::start(CanaryStyle::kSmtp, token);
  if (!smtp.ok()) return smtp.error();
  auto http = Canary::start(CanaryStyle::kHttp, token);
  if (!http.ok()) return http.error();
  auto line = Canary::start(CanaryStyle::kLine, token);
  if (!line.ok()) return line.error();
  c.smtp = std::move(*smtp);
  c.http = std::move(*http);
  c.line = std::move(*line);
  return c;
}

}  // namespace

int runAudit(const AuditOptions& options, std::ostream& out, std::ostream& err) {
  auto target = http::parseHostPort(options.proxy, {.portRequired = true});
  if (!target.ok()) {
    err << "portcullis audit: --proxy: " << target.error().message << "\n";
    return 2;
  }
  std::string why;
  auto timeout = config::parseDuration(options.timeout, why);
  if (!timeout || timeout->count() <= 0 || *timeout > kMaxTimeout) {
    err << "portcullis audit: --timeout: " << (why.empty() ? "must be between 1ms and 5m" : why)
        << "\n";
    return 2;
  }
  auto addresses = cli::resolve(*target);
  if (!addresses.ok()) {
    err << "portcullis audit: " << addresses.error().message << "\n";
    return 2;
  }
  if (auto probe = connectTo(*addresses, SteadyClock::now() + *timeout); !probe.ok()) {
    err << "portcullis audit: cannot connect to proxy " << options.proxy << ": "
        << probe.error().message << "\n";
    return 2;
  }
  const std::string token = randomToken();
  auto canaries = startCanaries(token);
  if (!canaries.ok()) {
    err << "portcullis audit: " << canaries.error().message << "\n";
    return 2;
  }
  const auto plan =
      planProbes({canaries->smtp->port(), canaries->http->port(), canaries->line->port(),
                  target->authority(), !options.skipMetadata});
  // The whole run is bounded: every probe has its own deadline, and none
  // starts once (probes + 1) x timeout has gone by.
  const Deadline runEnd = SteadyClock::now() + *timeout * static_cast<int>(plan.size() + 1);
  const milliseconds settle = std::min(*timeout, kSettle);
  AuditReport report{options.proxy, {}};
  for (const auto& spec : plan) {
    const auto now = SteadyClock::now();
    if (now >= runEnd) {
      report.probes.push_back(
          {spec.name, spec.sent, Verdict::kInconclusive, "not run: the audit ran out of time"});
      continue;
    }
    report.probes.push_back(
        runProbe(spec, *addresses, std::min(now + *timeout, runEnd), settle, *canaries, token));
  }
  out << (options.json ? renderJson(report) : renderTable(report));
  out.flush();
  return report.open() ? 1 : 0;
}

}  // namespace portcullis::audit
