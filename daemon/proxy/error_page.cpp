#include "daemon/proxy/error_page.h"

#include "daemon/http/message_writer.h"

namespace portcullis::proxy {

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

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
}  // namespace

std::string renderErrorResponse(const ErrorReply& reply, std::string_view pseudonym, bool close,
                                bool headOnly) {
  std::string body;
  body.reserve(1024);
  body += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
  body += std::to_string(reply.status) + " " + htmlEscape(reply.title);
  body += "</title></head>\n<body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\">\n";
  body += "<h1>" + htmlEscape(reply.title) + "</h1>\n<p>" + htmlEscape(reply.message) + "</p>\n";
  if (!reply.rule.empty()) {
    body += "<p>Decided by rule <code>" + htmlEscape(reply.rule) + "</code>";
    if (!reply.ruleWhere.empty()) body += " (" + htmlEscape(reply.ruleWhere) + ")";
    body += ".</p>\n";
  }
  body += "<hr><p><small>" + htmlEscape(pseudonym) + " proxy</small></p>\n</body></html>\n";

  http::HeaderMap headers;
  headers.add("Content-Type", "text/html; charset=utf-8");
  headers.add("Content-Length", std::to_string(body.size()));
  headers.add("Cache-Control", "no-store");
  std::string proxyStatus(pseudonym);
  if (!reply.proxyStatusError.empty()) proxyStatus += "; error=" + reply.proxyStatusError;
  std::string details = reply.detail;
  if (!reply.rule.empty()) {
    if (!details.empty()) details += "; ";
    details += "rule " + reply.rule;
    if (!reply.ruleWhere.empty()) details += " at " + reply.ruleWhere;
  }
  if (!details.empty()) proxyStatus += "; details=" + sfString(details);
  headers.add("Proxy-Status", proxyStatus);
  if (close) headers.add("Connection", "close");

  std::string out;
  http::writeResponseHead(out, reply.status, http::reasonPhrase(reply.status), headers);
  if (!headOnly) out += body;
  return out;
}

}  // namespace portcullis::proxy
