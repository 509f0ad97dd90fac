#pragma once
// Collapsed forwarding: N concurrent misses for the same cacheable URL make
// one upstream request. The first session (the leader) fetches and writes
// the body into the cache; the others (waiters) join the in-flight fetch and
// stream the body from the growing cache file as it arrives
// (read-while-writer), each on its own worker thread.
//
// Waiters are woken through their own libevent event (event_active is
// thread-safe with evthread_use_pthreads); a waiter removes its event before
// freeing it, under the fetch's mutex, so the leader never touches a dead one.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/entry_writer.h"
#include "daemon/http/message.h"

struct event;

namespace portcullis::proxy {

class InFlightFetch {
 public:
  enum class Phase {
    kWaitingHead,  ///< the leader has not got a response head yet
    kStreaming,    ///< head known and storable: body grows in `body`
    kComplete,     ///< body committed: complete at body->bytesWritten()
    kUncacheable,  ///< waiters must fetch for themselves
    kFailed,       ///< the leader's fetch broke: a waiter that started a body closes
  };

  struct View {
    Phase phase = Phase::kWaitingHead;
    std::shared_ptr<const http::ResponseHead> head;
    std::vector<std::string> varyNames;
    std::string secondaryKey;
    std::shared_ptr<const cache::InFlightBody> body;
    /// The IP the leader fetched from: each waiter checks it against its
    /// own client's rules before it may read the body.
    std::string originAddress;
  };

  View view() const;
  bool addWaiter(event* wake);  ///< false when the fetch no longer takes waiters
  void removeWaiter(event* wake);

  // Leader side.
  void publishHead(http::ResponseHead head, std::vector<std::string> varyNames,
                   std::string secondaryKey, std::shared_ptr<const cache::InFlightBody> body,
                   std::string originAddress = {});
  void notifyProgress();
  void finish(Phase phase);

 private:
  void wakeAllLocked();
  mutable std::mutex mutex_;
  View view_;
  std::vector<event*> waiters_;
};

/// The registry, shared by every worker.
class CollapsedForwarding {
 public:
  /// Joins the fetch for `key`, or starts one: `leader` is true when the
  /// caller must fetch. Returns null when `wake` could not be added (the
  /// fetch ended meanwhile): the caller then fetches on its own, uncollapsed.
  std::shared_ptr<InFlightFetch> join(const std::string& key, event* wake, bool& leader);
  /// The leader removes its fetch once no new waiter should join.
  void remove(const std::string& key, const InFlightFetch* fetch);
  /// The URL was invalidated (an unsafe method succeeded): later requests
  /// must not join a fetch that started before it. Sessions already
  /// waiting keep theirs; the cache refuses to store its body.
  void forget(const std::string& key);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<InFlightFetch>> fetches_;
};

}  // namespace portcullis::proxy
