#pragma once
// Owning handles for libevent objects: each is wrapped the moment it is made.

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "daemon/base/unique_handle.h"

namespace portcullis::net {

inline void freeEvdnsBase(evdns_base* b) { evdns_base_free(b, /*fail_requests=*/1); }

using EventBasePtr = UniqueHandle<event_base, event_base_free>;
using EventPtr = UniqueHandle<event, event_free>;
using BufferEventPtr = UniqueHandle<bufferevent, bufferevent_free>;
/// libevent 2.1 reads and writes at most 4 KiB / 16 KiB per callback by
/// default, which caps a tunnel or a large body at a few hundred MB/s. Every
/// connection we make gets larger single reads and writes (bounded by the
/// per-connection watermark anyway).
inline void setLargeIo(bufferevent* bev, size_t bytes) {
  bufferevent_set_max_single_read(bev, bytes);
  bufferevent_set_max_single_write(bev, bytes);
}

using ListenerPtr = UniqueHandle<evconnlistener, evconnlistener_free>;
using EvdnsBasePtr = UniqueHandle<evdns_base, freeEvdnsBase>;

}  // namespace portcullis::net
