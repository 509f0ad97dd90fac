"""cache.fill_after_abort end to end: a client that leaves mid-body does not
throw the fill away (issue #15 item 3). A real origin streams slowly; a raw
socket client reads part of the body and disconnects."""
import socket
import time
import urllib.request

from harness import Proxy, curl
from origin import body_of_size
from test_cache import cache_config, poll

SIZE = 3_000_000


def leave_mid_body(proxy, url, read_bytes=400_000):
    """GETs `url` through the proxy, reads `read_bytes` of the response, and
    closes the socket without reading the rest (an RST for the unread data)."""
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    s.sendall(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    got = 0
    while got < read_bytes:
        chunk = s.recv(65536)
        assert chunk, "the proxy closed before the body started"
        got += len(chunk)
    s.close()


def lines_for(proxy, path, n):
    def enough():
        try:
            lines = [x for x in proxy.access_lines(0) if path in x["url"]]
        except TimeoutError:
            return None
        return lines if len(lines) >= n else None
    return poll(f"{n} access lines for {path}", enough, timeout=20)


def metrics(proxy):
    with urllib.request.urlopen(f"http://{proxy.admin}/metrics", timeout=5) as r:
        return r.read().decode()


def test_a_fill_finishes_after_its_client_left_and_then_hits(origin, tmp_path):
    p = Proxy(cache_config(origin, tmp_path), tmpdir=str(tmp_path))
    try:
        path = f"/slowbig/fill?size={SIZE}&pieces=60&gap=0.02"
        url = origin.url(path)
        leave_mid_body(p, url)
        client_line, fill_line = lines_for(p, "/slowbig/fill", 2)
        assert client_line["termination"] == "client_closed"
        assert fill_line["termination"] == "fill_completed"
        assert fill_line["bytes_out"] == 0
        assert fill_line["client"] == client_line["client"]
        # Every byte the origin sent is counted once, on one of the two lines.
        body_bytes = client_line["upstream_bytes"] + fill_line["upstream_bytes"]
        assert SIZE <= body_bytes < SIZE + 1024
        r = curl(["-x", p.url, "-s", url])
        assert r.returncode == 0
        assert r.stdout == body_of_size(SIZE, seed=b"slowbig")
        assert origin.count("/slowbig/fill") == 1
        assert p.access_lines(3)[-1]["cache"] == "HIT"
        m = metrics(p)
        assert 'portcullis_background_fills_total{outcome="fill_completed"} 1' in m
        assert "portcullis_background_fills 0" in m
    finally:
        p.stop()


def test_more_left_than_the_limit_is_not_finished(origin, tmp_path):
    p = Proxy(cache_config(origin, tmp_path, 'fill_after_abort = "1 MiB"'), tmpdir=str(tmp_path))
    try:
        path = f"/slowbig/toolarge?size={SIZE}&pieces=60&gap=0.02"
        url = origin.url(path)
        leave_mid_body(p, url)
        (client_line,) = lines_for(p, "/slowbig/toolarge", 1)
        assert client_line["termination"] == "client_closed"
        assert client_line["upstream_bytes"] < SIZE
        r = curl(["-x", p.url, "-s", url])
        assert r.stdout == body_of_size(SIZE, seed=b"slowbig")
        assert origin.count("/slowbig/toolarge") == 2  # not stored: fetched again
        lines = lines_for(p, "/slowbig/toolarge", 2)
        assert [x["cache"] for x in lines] == ["MISS", "MISS"]
        assert "fill_" not in " ".join(x["termination"] for x in lines)
    finally:
        p.stop()
