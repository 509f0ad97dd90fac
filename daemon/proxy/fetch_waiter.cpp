#include "daemon/proxy/fetch_waiter.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cache/policy/vary.h"
#include "daemon/base/assert.h"
#include "daemon/http/chunked_decoder.h"
#include "daemon/http/framing.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/termination.h"

namespace portcullis::proxy {

namespace policy = cache::policy;
using Fetch = InFlightFetch::Phase;

FetchWaiter::FetchWaiter(ProxyContext& context, Owner& owner) : context_(context), owner_(owner) {
  wake_.reset(event_new(context.base, -1, 0, &FetchWaiter::onWake, this));
}

FetchWaiter::~FetchWaiter() {
  if (fetch_) fetch_->removeWaiter(wake_.get());
}

std::string_view FetchWaiter::phaseName(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "Idle";
    case Phase::kWaitingHead:
      return "WaitingHead";
    case Phase::kStreaming:
      return "Streaming";
    case Phase::kDone:
      return "Done";
  }
  return "?";
}

bool FetchWaiter::transitionAllowed(Phase from, Phase to) {
  switch (to) {
    case Phase::kIdle:
      return false;
    case Phase::kWaitingHead:
      return from == Phase::kIdle || from == Phase::kDone;
    case Phase::kStreaming:
      return from == Phase::kWaitingHead;
    case Phase::kDone:
      return from == Phase::kWaitingHead || from == Phase::kStreaming;
  }
  return false;
}

void FetchWaiter::enter(Phase to) {
  PC_DEBUG_ASSERT(transitionAllowed(phase_, to), "FetchWaiter phase transition");
  const Phase from = phase_;
  phase_ = to;
  if (context_.observer != nullptr) {
    context_.observer->onPhase("waiter", phaseName(from), phaseName(to));
  }
}

void FetchWaiter::onWake(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<FetchWaiter*>(arg);
  try {
    if (self->active()) self->proceed();
  } catch (...) {
    self->leave();
    self->owner_.waiterBroken();
  }
}

void FetchWaiter::start(std::shared_ptr<const config::Config> config,
                        const http::RequestHead& request, std::shared_ptr<InFlightFetch> fetch) {
  config_ = std::move(config);
  request_ = &request;
  fetch_ = std::move(fetch);
  fd_.reset();
  offset_ = 0;
  encoding_ = BodyEncoding::kNone;
  enter(Phase::kWaitingHead);
  proceed();
}

void FetchWaiter::leave() {
  if (fetch_) {
    fetch_->removeWaiter(wake_.get());
    fetch_.reset();
  }
  fd_.reset();
  if (active()) enter(Phase::kDone);
}

void FetchWaiter::proceed() {
  auto view = fetch_->view();
  if (view.phase == Fetch::kWaitingHead) return;
  if (phase_ == Phase::kWaitingHead && !sendHead(view)) return;
  if (!streamBody(view)) return;
  view = fetch_->view();  // the phase may have moved on meanwhile
  if (offset_ < view.body->bytesWritten()) return;
  if (view.phase == Fetch::kComplete) {
    if (encoding_ == BodyEncoding::kChunked) {
      std::string last;
      http::appendLastChunk(last);
      owner_.writeToClient(last);
    }
    leave();
    owner_.waiterFinished();
  } else if (view.phase == Fetch::kFailed || view.phase == Fetch::kUncacheable) {
    // The leader's body broke: never pass a short body off as complete.
    auto& record = owner_.record();
    record.error = "collapsed fetch failed mid-body";
    record.termination = describe(Termination::kOriginBodyBroken).name;
    leave();
    owner_.waiterBroken();
  }
}

bool FetchWaiter::sendHead(const InFlightFetch::View& view) {
  const auto& request = *request_;
  if (view.phase == Fetch::kUncacheable || view.phase == Fetch::kFailed || !view.head ||
      policy::secondaryKey(view.varyNames, request.headers) != view.secondaryKey ||
      !owner_.mayReadCopyFrom(view.originAddress)) {
    leave();
    owner_.waiterFallBack();  // not a response we may share: fetch our own
    return false;
  }
  auto reader = view.body->openReader();
  if (!reader.ok()) {
    leave();
    owner_.waiterFallBack();
    return false;
  }
  fd_ = std::move(reader.value());
  auto framing = http::responseFraming(*view.head, request.methodKind);
  http::Framing f = framing.ok() ? *framing : http::Framing{http::BodyKind::kUntilClose, 0};
  encoding_ = clientBodyEncoding(f, request.versionMinor);
  if (encoding_ == BodyEncoding::kUntilClose) owner_.endKeepAlive();
  http::HeaderMap extra;
  extra.add("Age", "0");
  auto head = *view.head;
  head.headers.remove("Age");
  owner_.writeToClient(buildClientResponse(head, encoding_, f.length, !owner_.keepAlive(),
                                           config_->server.viaPseudonym, &extra));
  owner_.record().status = head.status;
  enter(Phase::kStreaming);
  if (encoding_ == BodyEncoding::kNone) {
    leave();
    owner_.waiterFinished();
    return false;
  }
  return true;
}

bool FetchWaiter::streamBody(const InFlightFetch::View& view) {
  // Stream what the leader has written so far, up to our watermark.
  evbuffer* out = owner_.clientOutput();
  const size_t watermark = config_->server.bufferBytes;
  const uint64_t available = view.body->bytesWritten();
  auto& record = owner_.record();
  while (offset_ < available && evbuffer_get_length(out) < watermark) {
    // sendfile straight from the growing cache file: no copy through us.
    const uint64_t length = std::min<uint64_t>(available - offset_, 1 << 20);
    int fd = ::dup(fd_.get());
    if (fd < 0) {
      broken();
      return false;
    }
    const bool chunked = encoding_ == BodyEncoding::kChunked;
    if (chunked) {
      char size[24];
      int n = std::snprintf(size, sizeof size, "%llx\r\n", static_cast<unsigned long long>(length));
      evbuffer_add(out, size, static_cast<size_t>(n));
    }
    // libevent owns (and closes) the dup'd descriptor once it is sent.
    if (evbuffer_add_file(out, fd, static_cast<ev_off_t>(offset_), static_cast<ev_off_t>(length)) !=
        0) {
      broken();
      return false;
    }
    if (chunked) evbuffer_add(out, "\r\n", 2);
    offset_ += length;
    record.bytesOut += length;
  }
  return true;
}

void FetchWaiter::broken() {
  auto& record = owner_.record();
  record.error = "cache read failed while streaming a collapsed response";
  record.termination = describe(Termination::kStorageError).name;
  leave();
  owner_.waiterBroken();
}

}  // namespace portcullis::proxy
