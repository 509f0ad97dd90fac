#include "daemon/audit/probe_plan.h"

namespace portcullis::audit {
namespace {

constexpr const char* kCrlf = "\r\n";

std::string loopback(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

ProbeSpec connectProbe(std::string name, ProbeKind kind, CanaryTarget canary,
                       const std::string& authority, std::string payload) {
  ProbeSpec p;
  p.name = std::move(name);
  p.kind = kind;
  p.canary = canary;
  p.connect = true;
  // RFC 9110 §9.3.6: CONNECT takes the authority-form; Host repeats it.
  p.request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
  p.sent = "CONNECT " + authority;
  p.tunnelPayload = std::move(payload);
  return p;
}

/// An absolute-form request (RFC 9112 §3.2.2), as a client of a forward proxy sends it.
ProbeSpec requestProbe(std::string name, ProbeKind kind, CanaryTarget canary,
                       const std::string& method, const std::string& url,
                       const std::string& version, const std::string& host,
                       const std::string& body = "") {
  ProbeSpec p;
  p.name = std::move(name);
  p.kind = kind;
  p.canary = canary;
  p.request = method + " " + url + " " + version + kCrlf;
  if (!host.empty()) p.request += "Host: " + host + kCrlf;
  p.request += "User-Agent: portcullis-audit\r\n";
  if (!body.empty()) {
    p.request +=
        "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + kCrlf;
  }
  if (version == "HTTP/1.1") p.request += "Connection: close\r\n";
  p.request += kCrlf + body;
  p.sent = method + " " + url;
  if (version != "HTTP/1.1") p.sent += " " + version;
  return p;
}

}  // namespace

std::string smtpBody() {
  // RFC 5321 §3.3: the transaction an open relay would accept.
  return "HELO pcaudit.invalid\r\n"
         "MAIL FROM:<audit@pcaudit.invalid>\r\n"
         "RCPT TO:<canary@pcaudit.invalid>\r\n"
         "DATA\r\n"
         "Subject: portcullis audit\r\n\r\n"
         "open relay test\r\n"
         ".\r\n"
         "QUIT\r\n";
}

std::vector<ProbeSpec> planProbes(const PlanInputs& in) {
  const std::string smtp = loopback(in.smtpCanary);
  const std::string http = loopback(in.httpCanary);
  const std::string line = loopback(in.lineCanary);
  const std::string port25 = "127.0.0.1:25";
  const std::string ircLines = "NICK pcaudit\r\nUSER pcaudit 0 * :portcullis audit\r\nQUIT\r\n";
  auto url = [](const std::string& authority, const std::string& path) {
    return "http://" + authority + path;
  };
  std::vector<ProbeSpec> plan;
  plan.push_back(connectProbe("connect-smtp-canary", ProbeKind::kConnectCanary, CanaryTarget::kSmtp,
                              smtp, "QUIT\r\n"));
  plan.push_back(requestProbe("post-smtp-canary", ProbeKind::kRequestCanary, CanaryTarget::kSmtp,
                              "POST", url(smtp, "/"), "HTTP/1.1", smtp, smtpBody()));
  plan.push_back(
      connectProbe("connect-port-25", ProbeKind::kPort25, CanaryTarget::kNone, port25, "QUIT\r\n"));
  plan.push_back(requestProbe("post-port-25", ProbeKind::kPort25, CanaryTarget::kNone, "POST",
                              url(port25, "/"), "HTTP/1.1", port25, smtpBody()));
  plan.push_back(connectProbe(
      "connect-http-canary", ProbeKind::kConnectCanary, CanaryTarget::kHttp, http,
      "GET /pcaudit/connect HTTP/1.1\r\nHost: " + http + "\r\nConnection: close\r\n\r\n"));
  plan.push_back(connectProbe("connect-irc-canary", ProbeKind::kConnectCanary, CanaryTarget::kLine,
                              line, ircLines));
  plan.push_back(requestProbe("get-loopback-ip", ProbeKind::kRequestCanary, CanaryTarget::kHttp,
                              "GET", url(http, "/pcaudit/loopback-ip"), "HTTP/1.1", http));
  const std::string localhost = "localhost:" + std::to_string(in.httpCanary);
  plan.push_back(requestProbe("get-localhost", ProbeKind::kRequestCanary, CanaryTarget::kHttp,
                              "GET", url(localhost, "/pcaudit/localhost"), "HTTP/1.1", localhost));
  plan.push_back(requestProbe("get-irc-port", ProbeKind::kRequestCanary, CanaryTarget::kLine, "GET",
                              url(line, "/pcaudit/irc-port"), "HTTP/1.1", line));
  if (in.metadata) {
    plan.push_back(requestProbe("get-metadata", ProbeKind::kMetadata, CanaryTarget::kNone, "GET",
                                "http://169.254.169.254/latest/meta-data/", "HTTP/1.1",
                                "169.254.169.254"));
  }
  plan.push_back(connectProbe("connect-self", ProbeKind::kConnectSelf, CanaryTarget::kNone,
                              in.proxyAuthority, ""));
  auto mismatch =
      requestProbe("host-mismatch", ProbeKind::kRequestCanary, CanaryTarget::kHttp, "GET",
                   url(http, "/pcaudit/host-mismatch"), "HTTP/1.1", "example.com");
  mismatch.sent += " (Host: example.com)";
  plan.push_back(std::move(mismatch));
  // HTTP/1.0 needs no Host field (RFC 1945); an HTTP/1.0 client sends none.
  plan.push_back(requestProbe("http10", ProbeKind::kRequestCanary, CanaryTarget::kHttp, "GET",
                              url(http, "/pcaudit/http10"), "HTTP/1.0", ""));
  // RFC 9110 §9.1: methods are case-sensitive; "get" is not GET.
  plan.push_back(requestProbe("lowercase-method", ProbeKind::kRequestCanary, CanaryTarget::kHttp,
                              "get", url(http, "/pcaudit/lowercase-method"), "HTTP/1.1", http));
  return plan;
}

}  // namespace portcullis::audit
