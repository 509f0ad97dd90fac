#include "daemon/admin/status_client.h"

#include <cstdlib>
#include <thread>

namespace portcullis::admin {

Result<HttpReply> httpExchange(const AdminAddress& addr, const std::string& request,
                               std::chrono::milliseconds timeout) {
  cli::Endpoint to;
  to.length = addr.toSockaddr(to.storage);
  if (to.length == 0) return makeError("unusable address");
  return cli::httpExchange(to, request, timeout);
}

Result<HttpReply> httpGet(const AdminAddress& addr, const std::string& target,
                          std::chrono::milliseconds timeout) {
  const std::string host = addr.kind == AdminAddress::Kind::kUnix ? "localhost" : addr.toString();
  return httpExchange(addr, "GET " + target + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n", timeout);
}

namespace {

// Fetches one resource and reports failures the way the CLI should.
Result<HttpReply> fetch(const AdminAddress& addr, const std::string& target, const StatusOptions& o,
                        std::ostream& err) {
  auto r = httpGet(addr, target, o.timeout);
  if (!r) {
    err << "portcullis status: cannot reach the admin listener at " << addr.toString() << ": "
        << r.error().message << "\n";
    return r;
  }
  if (r->status != 200) {
    err << "portcullis status: " << addr.toString() << target << " answered " << r->status << ": "
        << r->body;
    return makeError("HTTP " + std::to_string(r->status));
  }
  return r;
}

// Drops all but the last `keep` lines of `text` (which ends with '\n').
std::string lastLines(const std::string& text, size_t keep) {
  if (keep == 0) return {};
  size_t count = 0;
  for (size_t i = text.size(); i > 0; --i) {
    if (text[i - 1] == '\n' && i != text.size() && ++count == keep) return text.substr(i);
  }
  return text;
}

int follow(const AdminAddress& addr, const StatusOptions& o, std::ostream& out, std::ostream& err) {
  const std::string format = o.json ? "jsonl" : "lines";
  uint64_t seq = 0;
  for (int poll = 0; o.maxPolls < 0 || poll < o.maxPolls; ++poll) {
    if (o.stop != nullptr && o.stop->load()) break;
    if (poll > 0) std::this_thread::sleep_for(o.pollInterval);
    auto r = fetch(addr, "/status?format=" + format + "&since=" + std::to_string(seq), o, err);
    if (!r) return 1;
    const auto it = r->headers.find("x-portcullis-seq");
    const uint64_t next =
        it == r->headers.end() ? seq : std::strtoull(it->second.c_str(), nullptr, 10);
    out << (poll == 0 ? lastLines(r->body, o.initialLines) : r->body) << std::flush;
    seq = next;  // a smaller number means the daemon restarted: start over
  }
  return 0;
}

}  // namespace

int runStatus(const std::string& adminAddress, const StatusOptions& options, std::ostream& out,
              std::ostream& err) {
  auto addr = AdminAddress::parse(adminAddress);
  if (!addr) {
    err << "portcullis status: " << addr.error().message << "\n";
    return 2;
  }
  if (options.follow) return follow(*addr, options, out, err);
  auto r = fetch(*addr, options.json ? "/status" : "/status?format=text", options, err);
  if (!r) return 1;
  out << r->body;
  if (options.json) out << "\n";
  return 0;
}

int runStatus(const std::string& adminAddress, bool follow, bool json, std::ostream& out,
              std::ostream& err) {
  StatusOptions o;
  o.follow = follow;
  o.json = json;
  return runStatus(adminAddress, o, out, err);
}

}  // namespace portcullis::admin
