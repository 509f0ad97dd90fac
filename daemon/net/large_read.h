#pragma once
// libevent 2.1's evbuffer_read never reads more than 4 KiB per call
// (EVBUFFER_MAX_READ, not settable before 2.2), whatever FIONREAD says and
// whatever bufferevent_set_max_single_read allows. On a fast origin that
// is one loop turn per 4 KiB: with 30 collapsed clients to serve between
// turns, a 10 MiB fetch took seconds. readMore() tops the input up with
// large readv calls straight from the socket, from inside the read callback.

#include <event2/bufferevent.h>

#include <cstddef>

namespace portcullis::net {

/// Reads what the socket has into bev's input until it holds `limit`
/// bytes (the read watermark) or the socket would block. EOF and errors
/// are left in the socket for libevent's own next read to report, so the
/// bufferevent's event callback still sees them. Returns bytes read.
size_t readMore(bufferevent* bev, size_t limit);

}  // namespace portcullis::net
