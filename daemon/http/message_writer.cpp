#include "daemon/http/message_writer.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "daemon/http/char_class.h"

namespace portcullis::http {

namespace {

size_t fieldsSize(const HeaderMap& headers) {
  size_t n = 2;
  for (const auto& f : headers.fields()) n += f.name.size() + f.value.size() + 4;
  return n;
}

void appendFields(std::string& out, const HeaderMap& headers) {
  for (const auto& f : headers.fields()) {
    out.append(f.name);
    out.append(": ");
    out.append(f.value);
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace

void writeRequestHead(std::string& out, std::string_view method, std::string_view target,
                      const HeaderMap& headers) {
  out.reserve(out.size() + method.size() + target.size() + 11 + fieldsSize(headers));
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  appendFields(out, headers);
}

void writeResponseHead(std::string& out, int status, std::string_view reason,
                       const HeaderMap& headers) {
  out.reserve(out.size() + reason.size() + 15 + fieldsSize(headers));
  out.append("HTTP/1.1 ");
  // RFC 9112 §4: status-code is exactly three digits.
  const int s = std::clamp(status, 0, 999);
  out.push_back(static_cast<char>('0' + s / 100));
  out.push_back(static_cast<char>('0' + s / 10 % 10));
  out.push_back(static_cast<char>('0' + s % 10));
  // The SP before the reason is required even when the reason is empty.
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  appendFields(out, headers);
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 511:
      return "Network Authentication Required";
    default:
      return "";
  }
}

void removeHopByHopFields(HeaderMap& headers) {
  // RFC 9110 §7.6.1: the fields named in Connection are hop-by-hop too.
  // Collect names first (views into headers would dangle once we remove).
  std::vector<std::string> named;
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, "Connection")) continue;
    std::string_view list = f.value;
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string_view::npos) comma = list.size();
      const std::string_view name = trimOws(list.substr(pos, comma - pos));
      // Content-Length and Host carry framing and routing; a client must not
      // be able to make us drop them by naming them in Connection.
      if (isToken(name) && !equalsIgnoreCase(name, "Content-Length") &&
          !equalsIgnoreCase(name, "Host")) {
        named.emplace_back(name);
      }
      pos = comma + 1;
    }
  }
  static constexpr std::string_view kHopByHop[] = {
      "Connection",        "Proxy-Connection",  "Keep-Alive", "TE",
      "Trailer",           "Transfer-Encoding", "Upgrade",    "Proxy-Authorization",
      "Proxy-Authenticate"};
  for (std::string_view name : kHopByHop) headers.remove(name);
  for (const auto& name : named) headers.remove(name);
}

}  // namespace portcullis::http
