#include "daemon/proxy/error_page.h"

#include "daemon/config/config.h"
#include "daemon/config/error_pages.h"
#include "daemon/http/message_writer.h"

namespace portcullis::proxy {

namespace {
// An sf-string for Proxy-Status details (RFC 8941 §3.3.3): printable ASCII,
// with '"' and '\' escaped.
std::string sfString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string renderBody(const ErrorReply& reply, const config::Config* config) {
  using config::ErrorField;
  std::vector<std::string> values(config::kErrorFields);
  auto set = [&values](ErrorField f, std::string v) {
    values[static_cast<size_t>(f)] = std::move(v);
  };
  set(ErrorField::kStatus, std::to_string(reply.status));
  set(ErrorField::kReason, std::string(http::reasonPhrase(reply.status)));
  set(ErrorField::kTitle, reply.title);
  set(ErrorField::kMessage, reply.message);
  set(ErrorField::kRule, reply.rule);
  set(ErrorField::kProxy, config ? config->server.viaPseudonym : "portcullis");
  const config::PageTemplate* page = &config::defaultErrorPage();
  if (config != nullptr) {
    set(ErrorField::kContact, config->server.errorContact);
    set(ErrorField::kOrganisation, config->server.organisation);
    if (config->server.errorPages) page = &config->server.errorPages->forStatus(reply.status);
  }
  return page->render(values);
}
}  // namespace

std::string renderErrorResponse(const ErrorReply& reply, const config::Config* config, bool close,
                                bool headOnly) {
  const std::string body = renderBody(reply, config);
  http::HeaderMap headers;
  headers.add("Content-Type", "text/html; charset=utf-8");
  headers.add("Content-Length", std::to_string(body.size()));
  headers.add("Cache-Control", "no-store");
  // The page is self-contained; an admin's template cannot make a pupil's
  // browser fetch anything either (images only as data: URIs).
  headers.add("Content-Security-Policy",
              "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
  std::string proxyStatus(config ? config->server.viaPseudonym : "portcullis");
  if (!reply.proxyStatusError.empty()) proxyStatus += "; error=" + reply.proxyStatusError;
  std::string details = reply.detail;
  if (!reply.rule.empty()) {
    if (!details.empty()) details += "; ";
    details += "rule " + reply.rule;
  }
  if (!details.empty()) proxyStatus += "; details=" + sfString(details);
  headers.add("Proxy-Status", proxyStatus);
  if (!reply.proxyAuthenticate.empty()) headers.add("Proxy-Authenticate", reply.proxyAuthenticate);
  if (close) headers.add("Connection", "close");

  std::string out;
  http::writeResponseHead(out, reply.status, http::reasonPhrase(reply.status), headers);
  if (!headOnly) out += body;
  return out;
}

}  // namespace portcullis::proxy
