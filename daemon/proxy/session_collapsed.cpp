// ClientSession, collapsed forwarding: the leader announcing its progress,
// and a waiter streaming the leader's body from the growing cache file.

#include <event2/buffer.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cache/policy/cache_control.h"
#include "cache/policy/invalidation.h"
#include "cache/policy/range.h"
#include "cache/policy/validation.h"
#include "cache/policy/vary.h"
#include "daemon/http/framing.h"
#include "daemon/http/message_writer.h"
#include "daemon/proxy/client_session.h"
#include "daemon/proxy/server.h"
#include "daemon/proxy/session_util.h"

namespace portcullis::proxy {

namespace policy = cache::policy;

void ClientSession::noteLeaderProgress(size_t n) {
  auto& t = txn_;
  if (!t.fetch || !t.leader) return;
  // Waiters are woken per 256 KiB (or 2 ms after the last wake-up): each
  // then sends one large sendfile instead of one per upstream read, which
  // costs fewer segments and wake-ups for the 30 clients of a classroom.
  static constexpr size_t kWakeBatch = 256 * 1024;
  t.unannouncedBytes += n;
  if (t.unannouncedBytes >= kWakeBatch) {
    t.unannouncedBytes = 0;
    evtimer_del(progressTimer_.get());
    t.fetch->notifyProgress();
  } else if (!evtimer_pending(progressTimer_.get(), nullptr)) {
    timeval soon{0, 2000};
    evtimer_add(progressTimer_.get(), &soon);
  }
}

void ClientSession::onProgressTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<ClientSession*>(arg);
  auto& t = self->txn_;
  if (t.fetch && t.leader && t.unannouncedBytes > 0) {
    t.unannouncedBytes = 0;
    t.fetch->notifyProgress();
  }
}

void ClientSession::leaveFetch(InFlightFetch::Phase leaderOutcome) {
  auto& t = txn_;
  if (!t.fetch) return;
  if (t.leader) {
    t.fetch->finish(leaderOutcome);
    context_.collapsed->remove(t.cacheKey, t.fetch.get());
  } else {
    t.fetch->removeWaiter(cacheWake_.get());
  }
  t.fetch.reset();
}

void ClientSession::stopWaitingAndFetch() {
  auto& t = txn_;
  leaveFetch(InFlightFetch::Phase::kFailed);
  t.record.cache = log::CacheResult::kMiss;
  enter(State::kResolving);
  connectUpstream();  // the addresses were resolved and checked before we waited
}

void ClientSession::continueWaiting() {
  auto& t = txn_;
  auto view = t.fetch->view();
  using Phase = InFlightFetch::Phase;
  if (view.phase == Phase::kWaitingHead) return;
  if (!t.waiterHeadSent) {
    if (view.phase == Phase::kUncacheable || view.phase == Phase::kFailed || !view.head ||
        policy::secondaryKey(view.varyNames, t.request.headers) != view.secondaryKey ||
        !mayReadCopyFrom(view.originAddress)) {
      stopWaitingAndFetch();  // not a response we may share: fetch our own
      return;
    }
    auto reader = view.body->openReader();
    if (!reader.ok()) {
      stopWaitingAndFetch();
      return;
    }
    t.waiterFd = std::move(reader.value());
    auto framing = http::responseFraming(*view.head, t.request.methodKind);
    http::Framing f = framing.ok() ? *framing : http::Framing{http::BodyKind::kUntilClose, 0};
    t.waiterEncoding = clientBodyEncoding(f, t.request.versionMinor);
    if (t.waiterEncoding == BodyEncoding::kUntilClose) t.keepAlive = false;
    http::HeaderMap extra;
    extra.add("Age", "0");
    auto head = *view.head;
    head.headers.remove("Age");
    writeToClient(buildClientResponse(head, t.waiterEncoding, f.length, !t.keepAlive,
                                      t.config->server.viaPseudonym, &extra));
    t.record.status = head.status;
    t.waiterHeadSent = true;
    if (t.waiterEncoding == BodyEncoding::kNone) {
      leaveFetch(Phase::kFailed);
      finishTransaction();
      return;
    }
  }
  // Stream what the leader has written so far, up to our watermark.
  evbuffer* out = bufferevent_get_output(client_.get());
  const size_t watermark = t.config->server.bufferBytes;
  uint64_t available = view.body->bytesWritten();
  while (t.waiterOffset < available && evbuffer_get_length(out) < watermark) {
    // sendfile straight from the growing cache file: no copy through us.
    const uint64_t length = std::min<uint64_t>(available - t.waiterOffset, 1 << 20);
    int fd = ::dup(t.waiterFd.get());
    if (fd < 0) {
      t.record.error = "cache read failed while streaming a collapsed response";
      t.record.termination = describe(Termination::kStorageError).name;
      close();
      return;
    }
    const bool chunked = t.waiterEncoding == BodyEncoding::kChunked;
    if (chunked) {
      char size[24];
      int n = std::snprintf(size, sizeof size, "%llx\r\n", static_cast<unsigned long long>(length));
      evbuffer_add(out, size, static_cast<size_t>(n));
    }
    // libevent owns (and closes) the dup'd descriptor once it is sent.
    if (evbuffer_add_file(out, fd, static_cast<ev_off_t>(t.waiterOffset),
                          static_cast<ev_off_t>(length)) != 0) {
      t.record.error = "cache read failed while streaming a collapsed response";
      t.record.termination = describe(Termination::kStorageError).name;
      close();
      return;
    }
    if (chunked) evbuffer_add(out, "\r\n", 2);
    t.waiterOffset += length;
    t.record.bytesOut += length;
  }
  view = t.fetch->view();  // the phase may have moved on meanwhile
  if (t.waiterOffset >= view.body->bytesWritten()) {
    if (view.phase == Phase::kComplete) {
      if (t.waiterEncoding == BodyEncoding::kChunked) {
        std::string last;
        http::appendLastChunk(last);
        writeToClient(last);
      }
      leaveFetch(Phase::kComplete);
      t.waiterFd.reset();
      finishTransaction();
    } else if (view.phase == Phase::kFailed || view.phase == Phase::kUncacheable) {
      // The leader's body broke: never pass a short body off as complete.
      t.record.error = "collapsed fetch failed mid-body";
      t.record.termination = describe(Termination::kOriginBodyBroken).name;

      close();
    }
  }
}

}  // namespace portcullis::proxy
