#include "daemon/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "daemon/admin/status_page.h"
#include "daemon/base/unique_handle.h"
#include "daemon/http/host_port.h"

namespace portcullis::admin {

struct AdminServer::Handles {
  UniqueHandle<event_base, event_base_free> base;
  UniqueHandle<evhttp, evhttp_free> http;
  UniqueHandle<event, event_free> wake;
  UniqueHandle<event, event_free> minute;
  UniqueFd wakeRead;
  UniqueFd wakeWrite;
};

namespace {

using Buffer = UniqueHandle<evbuffer, evbuffer_free>;

// Owns the key/value list evhttp_parse_query_str fills.
struct Query {
  evkeyvalq kv{};
  bool ok = false;
  explicit Query(const std::string& text) { ok = evhttp_parse_query_str(text.c_str(), &kv) == 0; }
  ~Query() { evhttp_clear_headers(&kv); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  std::string get(const char* key) const {
    const char* v = ok ? evhttp_find_header(&kv, key) : nullptr;
    return v == nullptr ? std::string() : std::string(v);
  }
};

void reply(evhttp_request* req, int code, const char* reason, std::string_view contentType,
           std::string_view body) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", std::string(contentType).c_str());
  evhttp_add_header(out, "Cache-Control", "no-store");
  evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
  // RFC 9110 §9.3.2: HEAD gets the GET headers without content. libevent
  // 2.1 would send the body anyway, so leave it out and state its length.
  const bool head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
  if (head) evhttp_add_header(out, "Content-Length", std::to_string(body.size()).c_str());
  Buffer buf(evbuffer_new());
  if (!buf || (!head && evbuffer_add(buf.get(), body.data(), body.size()) != 0)) {
    evhttp_send_error(req, 500, "Internal Server Error");
    return;
  }
  evhttp_send_reply(req, code, reason, buf.get());
}

void replyText(evhttp_request* req, int code, const char* reason, std::string_view body) {
  reply(req, code, reason, "text/plain; charset=utf-8", body);
}

// RFC 9110 §7.2: Host is "uri-host [ : port ]". Only IP literals and
// "localhost" are accepted, which defeats DNS rebinding against the page.
bool hostIsLiteral(std::string_view host) {
  const auto hp = http::parseHostPort(host, {.portRequired = false});
  return hp && (hp->isIpLiteral || hp->host == "localhost");
}

bool parseSeq(const std::string& text, uint64_t& out) {
  if (text.empty()) {
    out = 0;
    return true;
  }
  if (text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoull(text);
  return true;
}

}  // namespace

AdminServer::AdminServer(Stats& stats) : stats_(stats) {}
AdminServer::~AdminServer() {
  stop();
}

void AdminServer::setPurgeHandler(PurgeHandler handler) {
  purge_ = std::move(handler);
}

void AdminServer::setUnblockHandler(UnblockHandler handler) {
  unblock_ = std::move(handler);
}

void AdminServer::setControlHandler(ControlHandler handler) {
  control_ = std::move(handler);
}

Result<void> AdminServer::setAllowList(const std::vector<std::string>& allow) {
  auto parsed = PeerAllowList::parse(allow);
  if (!parsed) return parsed.error();
  auto list = std::make_shared<const PeerAllowList>(std::move(parsed).value());
  std::lock_guard lock(allowMu_);
  allow_ = std::move(list);
  return {};
}

std::string AdminServer::boundAddress() const {
  return bound_.toString();
}

Result<int> AdminServer::bindSocket(const AdminAddress& addr) {
  sockaddr_storage ss{};
  const socklen_t len = addr.toSockaddr(ss);
  const std::string name = addr.toString();
  if (len == 0) return makeError("admin listen " + name + ": unusable address");
  if (addr.kind == AdminAddress::Kind::kUnix) {
    struct stat st {};
    if (::lstat(addr.path.c_str(), &st) == 0) {
      // Replace only a stale socket, never a regular file someone pointed us at.
      if (!S_ISSOCK(st.st_mode))
        return makeError("admin listen " + name + ": path exists and is not a socket");
      ::unlink(addr.path.c_str());
    }
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return makeError("admin listen " + name + ": socket: " + std::strerror(errno));
  const int one = 1;
  if (ss.ss_family != AF_UNIX) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.get(), 64) != 0) {
    return makeError("admin listen " + name + ": " + std::strerror(errno));
  }
  if (ss.ss_family == AF_UNIX) {
    ::chmod(addr.path.c_str(), 0660);
  } else {
    sockaddr_storage got{};
    socklen_t gotLen = sizeof got;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &gotLen);
    bound_.port =
        ntohs(got.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
  }
  return fd.release();
}

Result<void> AdminServer::start(const std::string& listen, const std::vector<std::string>& allow) {
  if (thread_.joinable()) return makeError("admin server already started");
  auto addr = AdminAddress::parse(listen);
  if (!addr) return addr.error();
  if (auto r = setAllowList(allow); !r) return r;
  bound_ = *addr;
  auto h = std::make_unique<Handles>();
  h->base.reset(event_base_new());
  if (h->base) h->http.reset(evhttp_new(h->base.get()));
  if (!h->http) return makeError("admin listen: cannot create event base");
  auto fd = bindSocket(*addr);
  if (!fd) return fd.error();
  evconnlistener* lev = evconnlistener_new(h->base.get(), nullptr, nullptr,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, *fd);
  if (lev == nullptr) {
    ::close(*fd);
    return makeError("admin listen " + listen + ": cannot create listener");
  }
  evhttp_bind_listener(h->http.get(), lev);  // evhttp owns and frees it now
  evhttp_set_timeout(h->http.get(), 10);
  evhttp_set_max_headers_size(h->http.get(), 16 * 1024);
  evhttp_set_max_body_size(h->http.get(), 4 * 1024);
  evhttp_set_allowed_methods(h->http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
  evhttp_set_gencb(h->http.get(), &AdminServer::onRequest, this);

  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return makeError(std::string("admin: pipe: ") + std::strerror(errno));
  }
  h->wakeRead.reset(pipeFds[0]);
  h->wakeWrite.reset(pipeFds[1]);
  h->wake.reset(event_new(h->base.get(), h->wakeRead.get(), EV_READ | EV_PERSIST,
                          &AdminServer::onWake, h->base.get()));
  h->minute.reset(event_new(h->base.get(), -1, EV_PERSIST, &AdminServer::onMinute, this));
  const timeval minute{60, 0};
  if (!h->wake || !h->minute || event_add(h->wake.get(), nullptr) != 0 ||
      event_add(h->minute.get(), &minute) != 0) {
    return makeError("admin: cannot register events");
  }
  event_base* base = h->base.get();
  h_ = std::move(h);
  thread_ = std::thread([base] { event_base_dispatch(base); });
  return {};
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  const char byte = 'x';
  while (::write(h_->wakeWrite.get(), &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  h_.reset();  // frees the listener (closing its socket), then the base
  if (bound_.kind == AdminAddress::Kind::kUnix) ::unlink(bound_.path.c_str());
}

void AdminServer::onWake(int, short, void* base) noexcept {
  event_base_loopbreak(static_cast<event_base*>(base));
}

void AdminServer::onMinute(int, short, void* self) noexcept {
  try {
    static_cast<AdminServer*>(self)->stats_.sampleHistory(std::chrono::system_clock::now());
  } catch (...) {  // a missed chart point is not worth the admin thread
  }
}

void AdminServer::onRequest(evhttp_request* req, void* self) noexcept {
  try {
    static_cast<AdminServer*>(self)->handle(req);
  } catch (...) {
    evhttp_send_error(req, 500, "Internal Server Error");
  }
}

bool AdminServer::peerAllowed(evhttp_request* req) const {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  const sockaddr* sa = conn == nullptr ? nullptr : evhttp_connection_get_addr(conn);
  if (sa == nullptr) return bound_.kind == AdminAddress::Kind::kUnix;
  if (sa->sa_family == AF_UNIX) return true;  // guarded by the socket file's mode
  std::shared_ptr<const PeerAllowList> allow;
  {
    std::lock_guard lock(allowMu_);
    allow = allow_;
  }
  return allow && allow->allows(sa);
}

void AdminServer::handle(evhttp_request* req) {
  if (!peerAllowed(req))
    return replyText(req, 403, "Forbidden", "forbidden: address not in admin allow list\n");
  const char* host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
  if (host != nullptr && !hostIsLiteral(host)) {
    return replyText(req, 403, "Forbidden", "forbidden: Host must be an IP address or localhost\n");
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* rawPath = uri == nullptr ? nullptr : evhttp_uri_get_path(uri);
  const char* rawQuery = uri == nullptr ? nullptr : evhttp_uri_get_query(uri);
  const std::string path = rawPath == nullptr || *rawPath == '\0' ? "/" : rawPath;
  const std::string query = rawQuery == nullptr ? "" : rawQuery;
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  const bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;

  if (path == "/cache/purge" || path == "/unblock") {
    if (method != EVHTTP_REQ_POST) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
      return replyText(req, 405, "Method Not Allowed", "use POST\n");
    }
    return path == "/unblock" ? serveUnblock(req, query) : servePurge(req, query);
  }
  if (path == "/reload" || path == "/reopen-logs") {
    if (method != EVHTTP_REQ_POST) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
      return replyText(req, 405, "Method Not Allowed", "use POST\n");
    }
    return serveControl(req, std::string_view(path).substr(1));
  }
  if (path != "/" && path != "/status" && path != "/metrics" && path != "/healthz") {
    return replyText(req, 404, "Not Found", "not found: try /, /status, /metrics or /healthz\n");
  }
  if (!get) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
    return replyText(req, 405, "Method Not Allowed", "use GET\n");
  }
  if (path == "/") {
    evkeyvalq* out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Security-Policy", std::string(statusPageCsp()).c_str());
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    return reply(req, 200, "OK", "text/html; charset=utf-8", statusPageHtml());
  }
  if (path == "/healthz") {
    // For a balancer's health check (HAProxy `option httpchk GET /healthz`).
    if (stats_.draining()) return replyText(req, 503, "Service Unavailable", "draining\n");
    return replyText(req, 200, "OK", "ok\n");
  }
  if (path == "/metrics") {
    return reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                 renderPrometheus(stats_.snapshot(std::chrono::system_clock::now())));
  }
  serveStatus(req, query);
}

void AdminServer::serveStatus(evhttp_request* req, const std::string& query) {
  const Query q(query);
  if (!q.ok) return replyText(req, 400, "Bad Request", "bad query string\n");
  uint64_t since = 0;
  if (!parseSeq(q.get("since"), since)) return replyText(req, 400, "Bad Request", "bad since\n");
  const std::string format = q.get("format");
  uint64_t lastSeq = 0;
  const auto recent = stats_.recent(since, &lastSeq);
  if (format == "lines" || format == "jsonl") {
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Portcullis-Seq",
                      std::to_string(lastSeq).c_str());
    return replyText(req, 200, "OK", renderRecentLines(recent, format == "jsonl"));
  }
  StatsSnapshot snap = stats_.snapshot(std::chrono::system_clock::now());
  snap.lastSeq = lastSeq;
  if (format == "text") return replyText(req, 200, "OK", renderStatusText(snap));
  if (format == "restart-only") {
    return replyText(req, 200, "OK", renderRestartOnly(stats_.restartOnlyValues()));
  }
  if (!format.empty() && format != "json")
    return replyText(req, 400, "Bad Request", "bad format\n");
  reply(req, 200, "OK", "application/json", renderStatusJson(snap, recent, stats_.history()));
}

namespace {
// Every state-changing POST needs this header: a custom header makes a
// browser send a CORS preflight first, which we never approve, so a web page
// cannot purge, unblock or reload through a visiting admin's browser.
bool refusedWithoutAdminHeader(evhttp_request* req) {
  if (evhttp_find_header(evhttp_request_get_input_headers(req), "X-Portcullis-Admin") != nullptr) {
    return false;
  }
  replyText(req, 403, "Forbidden", "forbidden: X-Portcullis-Admin header required\n");
  return true;
}
}  // namespace

void AdminServer::servePurge(evhttp_request* req, const std::string& query) {
  if (!purge_) return replyText(req, 404, "Not Found", "purge is not enabled\n");
  if (refusedWithoutAdminHeader(req)) return;
  const Query q(query);
  const std::string url = q.get("url");
  if (!q.ok || url.empty()) return replyText(req, 400, "Bad Request", "url parameter required\n");
  auto result = purge_(url);
  if (!result) return replyText(req, 500, "Internal Server Error", result.error().message + "\n");
  replyText(req, 200, "OK", *result + "\n");
}

void AdminServer::serveUnblock(evhttp_request* req, const std::string& query) {
  if (!unblock_) return replyText(req, 404, "Not Found", "unblock is not enabled\n");
  if (refusedWithoutAdminHeader(req)) return;
  const Query q(query);
  const std::string ip = q.get("ip");
  if (!q.ok || ip.empty()) return replyText(req, 400, "Bad Request", "ip parameter required\n");
  auto result = unblock_(ip);
  if (result) return replyText(req, 200, "OK", *result + "\n");
  const int code = result.error().status == 0 ? 500 : result.error().status;
  replyText(req, code,
            code == 404   ? "Not Found"
            : code == 400 ? "Bad Request"
                          : "Error",
            result.error().message + "\n");
}

void AdminServer::serveControl(evhttp_request* req, std::string_view action) {
  if (!control_) return replyText(req, 404, "Not Found", "not enabled\n");
  if (refusedWithoutAdminHeader(req)) return;
  auto result = control_(action);
  if (!result) return replyText(req, 500, "Internal Server Error", result.error().message + "\n");
  replyText(req, 200, "OK", *result + "\n");
}

}  // namespace portcullis::admin
