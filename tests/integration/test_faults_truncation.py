"""Truncated origin responses and stalled request bodies (regressions found by
test_faults.py): a broken body reaches the client as a cut-short transfer after
its head, never as an empty reply; a stalled client body is cut by body_timeout."""
import threading
import time

import pytest
from harness import Reader, connect, fault_config, get, start_proxy
from test_faults import CACHEABLE, MARGIN, RawOrigin, assert_serves
from conftest import origin  # noqa

def _short_body(conn, head, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + CACHEABLE + b"Content-Length: 1000\r\n\r\n" + b"s" * 500)
    return False


def _invalid_chunking(conn, head, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + CACHEABLE + b"Transfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\nzz\r\nnot a chunk\r\n0\r\n\r\n")
    return False


def _close_mid_chunk(conn, head, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + CACHEABLE + b"Transfer-Encoding: chunked\r\n\r\n"
                 b"400\r\n" + b"c" * 1024 + b"\r\n400\r\n" + b"c" * 100)
    return False



BUGGY = {
    "body-shorter-than-content-length": _short_body,
    "invalid-chunking": _invalid_chunking,
    "close-mid-chunk": _close_mid_chunk,
}


@pytest.mark.parametrize("name", list(BUGGY))
@pytest.mark.parametrize("cache", [False, True])
def test_truncated_origin_response_reaches_client(name, cache, origin, tmp_path, started):
    bad = RawOrigin(BUGGY[name])
    try:
        p = start_proxy(started, fault_config([origin.port, bad.port], tmp_path, cache=cache), tmp_path)
        for attempt in range(5):
            r = get(p.port, bad.url("/bad/%s/%d" % (name, attempt)), deadline=5)
            # Expected: a 502, or the 200 head and a truncated body. Actual: an empty reply.
            assert r is not None, "attempt %d: closed without any answer (curl: Empty reply from server)" % attempt
            assert r.status in (502, 504) or (r.status == 200 and not r.complete), r
        p.finish()
    finally:
        bad.close()


BODY_TIMEOUT = 2.0


def test_request_body_slower_than_body_timeout(origin, tmp_path, started):
    p = start_proxy(started, fault_config(
        [origin.port], tmp_path, server='body_timeout = "%ds"' % BODY_TIMEOUT), tmp_path)
    s = connect(p.port)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" % origin.url("/echo").encode())
    s.sendall(b"x" * 10)
    # Then silence, longer than body_timeout: the proxy must give up and close.
    reader = Reader(s, BODY_TIMEOUT + MARGIN)
    r = reader.read_response()
    assert r is None or r.status in (408, 502, 504), r
    assert reader.wait_closed()
    s.close()
    assert_serves(p, origin)
    p.finish()


