// ClientSession as the owner of its CacheStage and FetchWaiter: parking a
// collapsed waiter, letting it fetch alone, and ending both with the exchange.

#include "daemon/proxy/client_session.h"

namespace portcullis::proxy {

void ClientSession::waitForFetch(std::shared_ptr<InFlightFetch> fetch) {
  // A waiter: parked until the leader's head (or failure) arrives.
  enter(State::kWaitingForFetch);
  bufferevent_disable(client_.get(), EV_READ);
  waiter_.start(txn_.config, txn_.request, std::move(fetch));
}

void ClientSession::waiterFallBack() {
  txn_.record.cache = log::CacheResult::kMiss;
  enter(State::kResolving);
  startUpstream();  // the addresses were resolved and checked before we waited
}

void ClientSession::leaveCache(InFlightFetch::Phase outcome) {
  cache_.end(outcome);
  waiter_.leave();
}

}  // namespace portcullis::proxy
