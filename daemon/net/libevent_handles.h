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
using ListenerPtr = UniqueHandle<evconnlistener, evconnlistener_free>;
using EvdnsBasePtr = UniqueHandle<evdns_base, freeEvdnsBase>;

}  // namespace portcullis::net
