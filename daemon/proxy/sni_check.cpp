#include "daemon/proxy/sni_check.h"

#include <event2/buffer.h>
#include <event2/event.h>

#include <algorithm>

#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

using Step = SniVerdict::Step;

void SniCheck::start(bufferevent* client, std::unique_ptr<UpstreamConnection> upstream,
                     SniFacts facts, Limits limits) {
  client_ = client;
  upstream_ = std::move(upstream);
  facts_ = std::move(facts);
  limits_ = limits;
  judging_ = false;
  timer_.reset(evtimer_new(context_.base, &SniCheck::onTimer, this));
  const timeval tv = detail::toTimeval(limits_.timeout);
  if (timer_) evtimer_add(timer_.get(), &tv);
  // A server-speaks-first protocol on another port must not wait for the
  // client: what the origin sends goes to the client meanwhile. Nothing
  // goes upstream before the verdict.
  bufferevent_setcb(upstream_->bev.get(), &SniCheck::onUpstreamRead, nullptr,
                    &SniCheck::onUpstreamEvent, this);
  bufferevent_enable(upstream_->bev.get(), EV_READ);
  bufferevent_enable(client_, EV_READ);
  onClientReadable();  // the ClientHello may have come with the CONNECT
}

bool SniCheck::onClientReadable() {
  if (!active() || judging_) {
    if (client_ != nullptr) bufferevent_disable(client_, EV_READ);  // kept for the tunnel
    return true;
  }
  evbuffer* in = bufferevent_get_input(client_);
  const size_t have = evbuffer_get_length(in);
  if (have == 0) return true;
  // Small records cost 5 bytes each: allow their headers on top of the hello.
  const size_t cap = limits_.maxBytes * 2 + 5;
  const size_t look = std::min(have, cap);
  const auto* bytes =
      reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(look)));
  if (bytes == nullptr) return true;
  const tls::HelloOutcome outcome =
      tls::readClientHello(std::string_view(bytes, look), {.maxMessage = limits_.maxBytes});
  if (outcome.status == tls::HelloStatus::kClientHello) owner_.sniRead(outcome.hello);
  SniVerdict verdict = judgeHello(outcome, facts_);
  if (verdict.step == Step::kWait && look >= cap) {
    verdict = {Step::kRefuse, std::string(kMalformedRule), "TLS ClientHello over sni_max_size", {}};
  }
  act(std::move(verdict));
  return true;
}

void SniCheck::act(SniVerdict verdict) {
  switch (verdict.step) {
    case Step::kWait:
      return;
    case Step::kCheckName:
      checkName(verdict.name);
      return;
    case Step::kRelay:
    case Step::kRefuse:
      finish(verdict);
      return;
  }
}

void SniCheck::checkName(const std::string& name) {
  judging_ = true;
  bufferevent_disable(client_, EV_READ);
  // The name stage first: a blocked name needs no DNS.
  const acl::Decision byName = owner_.admitSniName(name, {});
  if (!byName.allowed()) {
    finish(sniNameVerdict(name, false, byName.rule, false));
    return;
  }
  auto answer = context_.resolver->resolve(
      name, [this, name](const net::DnsAnswer& a) { onResolved(name, a); }, dnsTicket_);
  if (answer) onResolved(name, *answer);
}

void SniCheck::onResolved(const std::string& name, const net::DnsAnswer& answer) {
  dnsTicket_ = 0;
  if (!active()) return;
  if (answer.failure) {
    finish({Step::kRefuse,
            std::string(kSniMismatchRule),
            "TLS server name " + name + " does not resolve (" + answer.detail + ")",
            {}});
    return;
  }
  // The same post-DNS checks as a CONNECT to that name, on every address.
  const acl::Decision byAddress = owner_.admitSniName(name, answer.addresses);
  const auto connected = upstream_->address.ip();
  const bool holds = connected && std::find(answer.addresses.begin(), answer.addresses.end(),
                                            *connected) != answer.addresses.end();
  finish(sniNameVerdict(name, byAddress.allowed(), byAddress.rule, holds));
}

void SniCheck::finish(const SniVerdict& verdict) {
  std::unique_ptr<UpstreamConnection> upstream = std::move(upstream_);
  if (timer_) evtimer_del(timer_.get());
  timer_.reset();
  if (dnsTicket_ != 0) context_.resolver->cancel(dnsTicket_);
  dnsTicket_ = 0;
  judging_ = false;
  if (!upstream) return;
  bufferevent_setcb(upstream->bev.get(), nullptr, nullptr, nullptr, nullptr);
  if (verdict.step == Step::kRelay) {
    owner_.sniPassed(std::move(upstream));
  } else {
    owner_.sniRefused(verdict);
  }
}

void SniCheck::stop() {
  if (timer_) evtimer_del(timer_.get());
  timer_.reset();
  if (dnsTicket_ != 0) context_.resolver->cancel(dnsTicket_);
  dnsTicket_ = 0;
  judging_ = false;
  if (upstream_) bufferevent_setcb(upstream_->bev.get(), nullptr, nullptr, nullptr, nullptr);
  upstream_.reset();
  client_ = nullptr;
}

void SniCheck::onClientDrained() {
  if (active()) bufferevent_enable(upstream_->bev.get(), EV_READ);
}

void SniCheck::passOriginBytes() {
  evbuffer* out = bufferevent_get_output(client_);
  evbuffer_add_buffer(out, bufferevent_get_input(upstream_->bev.get()));
  // A client that does not read holds at most a buffer's worth here.
  if (evbuffer_get_length(out) >= limits_.bufferBytes) {
    bufferevent_disable(upstream_->bev.get(), EV_READ);
  }
}

void SniCheck::onTimer(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [](SniCheck* self) {
    if (!self->active() || self->judging_) return;
    const size_t have = evbuffer_get_length(bufferevent_get_input(self->client_));
    self->finish(judgeTimeout(have, self->facts_));
  });
}

void SniCheck::onUpstreamRead(bufferevent*, void* arg) noexcept {
  guarded(arg, [](SniCheck* self) {
    if (self->active()) self->passOriginBytes();
  });
}

void SniCheck::onUpstreamEvent(bufferevent*, short what, void* arg) noexcept {
  guarded(arg, [what](SniCheck* self) {
    if (!self->active()) return;
    if (what & BEV_EVENT_EOF) {
      // The tunnel reads the EOF again from the socket and forwards it.
      bufferevent_disable(self->upstream_->bev.get(), EV_READ);
      return;
    }
    self->finish({Step::kRefuse, "sni:upstream-error", "the origin connection failed", {}});
  });
}

}  // namespace portcullis::proxy
