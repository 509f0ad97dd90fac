#include "daemon/admin/pac_server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "acl/policy_impl.h"
#include "daemon/base/unique_handle.h"
#include "daemon/net/listen_socket.h"

namespace portcullis::admin {

struct PacServer::Handles {
  UniqueHandle<event_base, event_base_free> base;
  UniqueHandle<evhttp, evhttp_free> http;
  UniqueHandle<event, event_free> wake;
  UniqueFd wakeRead;
  UniqueFd wakeWrite;
};

namespace {

void reply(evhttp_request* req, int code, const char* reason, const char* type,
           std::string_view body) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", type);
  // Browsers fetch it again at start-up and when the network changes; a
  // short lifetime lets a reload reach them without a restart.
  evhttp_add_header(out, "Cache-Control", "max-age=300");
  evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
  const bool head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
  if (head) evhttp_add_header(out, "Content-Length", std::to_string(body.size()).c_str());
  UniqueHandle<evbuffer, evbuffer_free> buf(evbuffer_new());
  if (!buf || (!head && evbuffer_add(buf.get(), body.data(), body.size()) != 0)) {
    evhttp_send_error(req, 500, "Internal Server Error");
    return;
  }
  evhttp_send_reply(req, code, reason, buf.get());
}

void onWake(int, short, void* base) noexcept {
  event_base_loopbreak(static_cast<event_base*>(base));
}

bool clientAllowed(const PacContent& content, const acl::IpAddress& client) {
  if (!content.policy) return false;
  const auto& sources = content.policy->impl().sources;
  for (size_t index : content.clients) {
    if (index < sources.size() && sources[index].cidrs.contains(client)) return true;
  }
  return false;
}

}  // namespace

PacServer::PacServer() = default;
PacServer::~PacServer() {
  stop();
}

void PacServer::setContent(std::shared_ptr<const PacContent> content) {
  std::lock_guard lock(mu_);
  content_ = std::move(content);
}

std::shared_ptr<const PacContent> PacServer::content() const {
  std::lock_guard lock(mu_);
  return content_;
}

Result<void> PacServer::start(const std::vector<config::ListenAddress>& listen,
                              std::shared_ptr<const PacContent> content, RefusalHook onRefusal) {
  if (thread_.joinable()) return makeError("pac listener already started");
  setContent(std::move(content));
  onRefusal_ = std::move(onRefusal);
  auto h = std::make_unique<Handles>();
  h->base.reset(event_base_new());
  if (h->base) h->http.reset(evhttp_new(h->base.get()));
  if (!h->http) return makeError("pac listen: cannot create event base");
  for (const config::ListenAddress& la : listen) {
    auto ip = acl::IpAddress::parse(la.host);
    if (!ip) return makeError("pac listen " + la.text + ": not an IP address");
    auto fd = net::openListenSocket(net::SocketAddress::from(*ip, la.port), 64);
    if (!fd) return makeError("pac listen " + la.text + ": " + fd.error().message);
    auto bound = net::boundAddress(fd->get());
    const int raw = fd->release();
    evconnlistener* lev = evconnlistener_new(h->base.get(), nullptr, nullptr,
                                             LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, raw);
    if (lev == nullptr) {
      ::close(raw);
      return makeError("pac listen " + la.text + ": cannot create listener");
    }
    evhttp_bind_listener(h->http.get(), lev);  // evhttp owns and frees it now
    const uint16_t port = bound ? bound->port() : la.port;
    const bool v6 = la.host.find(':') != std::string::npos;
    bound_.push_back(
        {(v6 ? "[" + la.host + "]" : la.host) + ":" + std::to_string(port), la.host, port});
  }
  evhttp_set_timeout(h->http.get(), 10);
  evhttp_set_max_headers_size(h->http.get(), 16 * 1024);
  evhttp_set_max_body_size(h->http.get(), 0);
  evhttp_set_allowed_methods(h->http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(h->http.get(), &PacServer::onRequest, this);
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return makeError(std::string("pac: pipe: ") + std::strerror(errno));
  }
  h->wakeRead.reset(pipeFds[0]);
  h->wakeWrite.reset(pipeFds[1]);
  h->wake.reset(
      event_new(h->base.get(), h->wakeRead.get(), EV_READ | EV_PERSIST, &onWake, h->base.get()));
  if (!h->wake || event_add(h->wake.get(), nullptr) != 0) {
    return makeError("pac: cannot register events");
  }
  event_base* base = h->base.get();
  h_ = std::move(h);
  thread_ = std::thread([base] { event_base_dispatch(base); });
  return {};
}

void PacServer::stop() {
  if (!thread_.joinable()) return;
  const char byte = 'x';
  while (::write(h_->wakeWrite.get(), &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  h_.reset();  // frees the listeners (closing their sockets), then the base
}

void PacServer::onRequest(evhttp_request* req, void* self) noexcept {
  try {
    static_cast<PacServer*>(self)->handle(req);
  } catch (...) {
    evhttp_send_error(req, 500, "Internal Server Error");
  }
}

void PacServer::handle(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  const sockaddr* sa = conn == nullptr ? nullptr : evhttp_connection_get_addr(conn);
  const auto client = sa == nullptr ? std::nullopt : acl::IpAddress::fromSockaddr(sa);
  const auto served = content();
  if (!client || !served || !clientAllowed(*served, *client)) {
    const std::string who = client ? client->toString() : std::string("unknown");
    if (onRefusal_) onRefusal_(who, "client not in [pac] clients");
    return reply(req, 403, "Forbidden", "text/plain; charset=utf-8",
                 "forbidden: this address is not in a source set [pac] clients names\n");
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri == nullptr ? nullptr : evhttp_uri_get_path(uri);
  const std::string_view p = path == nullptr ? "" : path;
  if (p != "/proxy.pac" && p != "/wpad.dat") {
    return reply(req, 404, "Not Found", "text/plain; charset=utf-8",
                 "not found: the PAC file is at /proxy.pac and /wpad.dat\n");
  }
  reply(req, 200, "OK", "application/x-ns-proxy-autoconfig", served->body);
}

}  // namespace portcullis::admin
