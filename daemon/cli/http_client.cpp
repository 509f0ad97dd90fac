#include "daemon/cli/http_client.h"

#include <cctype>
#include <cstdlib>

namespace portcullis::cli {

namespace {
constexpr size_t kMaxReply = 32u << 20;
}  // namespace

Result<HttpReply> parseHttpReply(const std::string& raw) {
  const auto headEnd = raw.find("\r\n\r\n");
  // RFC 9112 §4: status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]
  const auto digit = [&](size_t i) { return std::isdigit(static_cast<unsigned char>(raw[i])); };
  if (raw.rfind("HTTP/1.", 0) != 0 || headEnd == std::string::npos || headEnd < 12 ||
      raw[8] != ' ' || !digit(9) || !digit(10) || !digit(11) || (headEnd > 12 && raw[12] != ' ')) {
    return makeError("malformed HTTP response");
  }
  HttpReply r;
  r.status = std::atoi(raw.c_str() + 9);
  size_t pos = raw.find("\r\n") + 2;
  while (pos < headEnd) {
    const auto eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto v = line.find_first_not_of(" \t", colon + 1);
      r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    pos = eol + 2;
  }
  r.body = raw.substr(headEnd + 4);
  return r;
}

Result<HttpReply> httpExchange(const Endpoint& to, const std::string& request,
                               std::chrono::milliseconds timeout) {
  const Deadline deadline = SteadyClock::now() + timeout;
  auto fd = connectTo({to}, deadline);
  if (!fd) return fd.error();
  if (auto sent = sendAll(fd->get(), request, deadline); !sent) return sent.error();
  std::string raw;
  const ReadEnd end = readUntil(
      fd->get(), raw, deadline, [](std::string_view) { return false; }, kMaxReply + 1);
  if (end == ReadEnd::kTimeout) return makeError("read timed out");
  if (end == ReadEnd::kFull) return makeError("response too large");
  return parseHttpReply(raw);
}

}  // namespace portcullis::cli
