"""A slice fetch outlives its client (cache.fill_after_abort, issue #15):
a client that leaves mid-slice does not throw the slice away; the proxy
finishes that slice (not the rest of the client's range), logs the fill's
upstream bytes on a line of its own and counts them in /metrics; clients
that joined the slice keep streaming it; a kill -9 during such a fill never
leaves a wrong slice behind. The origin and helpers are test_slices.py's."""
import signal
import socket
import time

from harness import Proxy
from test_slices import MiB, SliceOrigin, fetch, metric, metrics_text, slice_config


def open_range(proxy, url, first, last, read_bytes):
    """GETs bytes first-last through the proxy on a raw socket and returns it
    once at least `read_bytes` of the response arrived (head included)."""
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=20)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=%d-%d\r\n\r\n"
               % (url, first, last)).encode())
    got = b""
    while len(got) < read_bytes:
        chunk = s.recv(65536)
        assert chunk, "the proxy closed before %d bytes" % read_bytes
        got += chunk
    return s, got


def poll_metrics(proxy, what, check, deadline=20.0):
    end = time.monotonic() + deadline
    while True:
        text = metrics_text(proxy)
        if check(text):
            return text
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.05)  # polling /metrics with a deadline


def fill_outcome(text, outcome):
    key = 'portcullis_background_fills_total{outcome="%s"} ' % outcome
    for line in text.splitlines():
        if line.startswith(key):
            return int(line[len(key):])
    return 0


def slice_served(origin, index):
    return [s for (_, f, l, s) in origin.served if (f, l) == (index * MiB, (index + 1) * MiB - 1)]


def test_a_client_leaving_mid_slice_leaves_the_slice_stored(tmp_path):
    size = 8 * MiB
    origin = SliceOrigin(size, chunk_delay=0.15)  # 4 x 256 KiB per slice: ~0.6 s
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        # Slices 3 to 5 wanted; the client leaves inside slice 3 (the probe).
        s, _ = open_range(p, url, 3 * MiB, 6 * MiB - 1, 300_000)
        s.close()
        text = poll_metrics(p, "the fill", lambda t: fill_outcome(t, "fill_completed") == 1)
        assert metric(text, "portcullis_background_fills") == 0
        assert metric(text, "portcullis_cache_slice_fetches_total") == 1
        assert metric(text, "portcullis_cache_slice_fetched_bytes_total") == MiB
        # Only the slice being fetched was finished, not the rest of the range.
        assert [(f, l) for (_, f, l, _) in origin.served] == [(3 * MiB, 4 * MiB - 1)]
        client_line, fill_line = p.access_lines(2)
        assert client_line["termination"] == "client_closed"
        assert fill_line["termination"] == "fill_completed"
        assert fill_line["slice"] == "sliced" and fill_line["bytes_out"] == 0
        assert fill_line["client"] == client_line["client"]
        # Every byte of the slice the origin sent is on one of the two lines
        # (the client's also counts the response head).
        assert MiB <= client_line["upstream_bytes"] + fill_line["upstream_bytes"] < MiB + 1024
        assert fill_line["upstream_bytes"] > 0
        assert metric(text, "portcullis_upstream_received_bytes_total") >= MiB
        # The next client gets it from the cache.
        served = len(origin.served)
        status, _, body, complete = fetch(p, url, 3 * MiB + 5, 4 * MiB - 1)
        assert status == 206 and complete and body == origin.content.read(3 * MiB + 5, MiB - 5)
        assert len(origin.served) == served  # no origin request
        assert p.access_lines(3)[-1]["cache"] == "HIT"
        p.finish()
    finally:
        p.stop()
        origin.close()


def test_a_client_that_joined_the_slice_keeps_streaming_it(tmp_path):
    size = 8 * MiB
    origin = SliceOrigin(size, chunk_delay=0.2)
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        status, _, _, _ = fetch(p, url, 0, 100)  # the object is known (slice 0 stored)
        assert status == 206
        leader, _ = open_range(p, url, 2 * MiB, 3 * MiB - 1, 100_000)
        # The second client's first body bytes come from the leader's fetch.
        joined, got = open_range(p, url, 2 * MiB, 3 * MiB - 1, 1)
        leader.close()
        while b"\r\n\r\n" not in got:
            got += joined.recv(65536)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 206")
        while len(body) < MiB:
            chunk = joined.recv(65536)
            assert chunk, "cut short after %d bytes" % len(body)
            body += chunk
        joined.close()
        assert body == origin.content.read(2 * MiB, MiB)
        assert len(slice_served(origin, 2)) == 1, "the slice was fetched twice"
        poll_metrics(p, "the fill", lambda t: fill_outcome(t, "fill_completed") == 1)
        lines = p.access_lines(4)
        assert sorted(x["termination"] for x in lines) == [
            "client_closed", "completed", "completed", "fill_completed"]
        # The joined client read the leader's (then the fill's) slice: no origin bytes.
        joined_line = [x for x in lines if x["termination"] == "completed" and x["bytes_out"] > MiB]
        assert len(joined_line) == 1 and joined_line[0]["upstream_bytes"] == 0
        p.finish()
    finally:
        p.stop()
        origin.close()


def test_a_slice_left_with_more_than_fill_after_abort_is_dropped(tmp_path):
    size = 8 * MiB
    origin = SliceOrigin(size, chunk_delay=0.15)
    extra = 'fill_after_abort = "64 KiB"'
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path), extra), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        s, _ = open_range(p, url, 3 * MiB, 4 * MiB - 1, 100_000)
        s.close()  # at least 3 of the origin's 4 slow pieces left: more than the limit
        (line,) = p.access_lines(1)
        assert line["termination"] == "client_closed"
        status, _, body, complete = fetch(p, url, 3 * MiB, 4 * MiB - 1)
        assert status == 206 and complete and body == origin.content.read(3 * MiB, MiB)
        assert len(slice_served(origin, 3)) == 2  # not stored: fetched again
        lines = p.access_lines(2)
        assert "fill_" not in " ".join(x["termination"] for x in lines)
        assert fill_outcome(metrics_text(p), "fill_completed") == 0
        p.finish()
    finally:
        p.stop()
        origin.close()


def test_a_whole_get_stored_as_slices_finishes_only_the_current_slice(tmp_path):
    size = 20 * MiB  # above slice_above (16 MiB): a 200 stored as slices
    origin = SliceOrigin(size, chunk_delay=0.05)
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % url).encode())
        got = 0
        while got < MiB + 300_000:  # inside slice 1
            chunk = s.recv(65536)
            assert chunk
            got += len(chunk)
        s.close()
        poll_metrics(p, "the fill", lambda t: fill_outcome(t, "fill_completed") == 1)
        client_line, fill_line = p.access_lines(2)
        assert fill_line["termination"] == "fill_completed" and fill_line["slice"] == "sliced"
        # The origin connection was dropped at the slice's end: far from 20 MiB.
        assert client_line["upstream_bytes"] + fill_line["upstream_bytes"] < 4 * MiB
        # (The origin may still be pushing into the closed connection: count requests.)
        served = len(origin.served)
        status, _, body, complete = fetch(p, url, MiB, 2 * MiB - 1)
        assert status == 206 and complete and body == origin.content.read(MiB, MiB)
        assert len(origin.served) == served and p.access_lines(3)[-1]["cache"] == "HIT"
        p.finish()
    finally:
        p.stop()
        origin.close()


def test_kill_during_a_slice_fill_never_leaves_a_wrong_slice(tmp_path):
    size = 6 * MiB
    origin = SliceOrigin(size, chunk_delay=0.3)
    config = slice_config(origin, tmp_path / "cache", str(tmp_path))
    url = "http://127.0.0.1:%d/obj" % origin.port
    p = Proxy(config, tmpdir=str(tmp_path))
    try:
        status, _, _, _ = fetch(p, url, 0, MiB - 1)
        assert status == 206
        s, _ = open_range(p, url, 4 * MiB, 5 * MiB - 1, 100_000)
        s.close()
        poll_metrics(p, "a running fill", lambda t: metric(t, "portcullis_background_fills") == 1)
        p.proc.send_signal(signal.SIGKILL)
        p.proc.wait()
    finally:
        p.stop()
    p = Proxy(config, tmpdir=str(tmp_path))
    try:
        for first, last in [(4 * MiB, 5 * MiB - 1), (0, size - 1)]:
            status, _, body, complete = fetch(p, url, first, last)
            assert status == 206 and complete, (first, last)
            assert body == origin.content.read(first, last - first + 1), (first, last)
        p.finish()
    finally:
        p.stop()
        origin.close()
