"""Sliced storage end to end (README "Update day"): a real origin written
here serves a large object generated from the offset (nothing of it is
kept in RAM), with Range and If-Range support; another ignores Range.
Every byte a client gets is compared with what the origin would send."""
import hashlib
import http.client
import os
import random
import re
import signal
import socket
import threading
import time

import pytest

from harness import Proxy, ThreadedAcceptor, base_config

MiB = 1 << 20
BLOCK = 64 * 1024


class Content:
    """Deterministic bytes of one version: block k is a window of a 1 MiB
    random pattern at an offset from hash(version, k), so a slice put at
    the wrong place, or from the other version, never compares equal."""

    def __init__(self, version, size):
        self.version = version
        self.size = size
        rnd = random.Random(version)
        pattern = bytes(rnd.getrandbits(8) for _ in range(4096)) * 256  # 1 MiB
        self.pattern = memoryview(pattern + pattern[:BLOCK])

    def _block_start(self, k):
        h = hashlib.blake2b(b"%s/%d" % (self.version.encode(), k), digest_size=8).digest()
        return int.from_bytes(h, "little") % (MiB - 4096) + (k % 4096)

    def read(self, offset, length):
        out = bytearray()
        end = offset + length
        while offset < end:
            k = offset // BLOCK
            inner = offset % BLOCK
            take = min(BLOCK - inner, end - offset)
            start = self._block_start(k) + inner
            out += self.pattern[start:start + take]
            offset += take
        return bytes(out)


class SliceOrigin(ThreadedAcceptor):
    """HTTP/1.1 keep-alive origin for /obj: Range (one range), If-Range
    against its strong ETag, counts body bytes sent and every range served."""

    def __init__(self, size, version="v1", ranges=True, chunk_delay=0.0):
        self.lock = threading.Lock()
        self.set_version(version, size)
        self.ranges = ranges
        self.chunk_delay = chunk_delay
        self.body_bytes = 0
        self.served = []  # (version, first, last, status)
        self.requests = []
        super().__init__(backlog=64)

    def set_version(self, version, size=None):
        with self.lock:
            self.content = Content(version, size or self.content.size)

    def handle(self, conn):
        f = conn.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                headers = {}
                while True:
                    h = f.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                if not self.respond(conn, headers):
                    return
        except OSError:
            return
        finally:
            conn.close()

    def respond(self, conn, headers):
        with self.lock:
            content = self.content
            self.requests.append(headers)
        etag = '"%s"' % content.version
        first, last, status = 0, content.size - 1, 200
        rng = headers.get("range")
        if_range = headers.get("if-range")
        if self.ranges and rng and (if_range is None or if_range == etag):
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
            first = int(m.group(1))
            last = min(int(m.group(2)) if m.group(2) else content.size - 1, content.size - 1)
            status = 206
        head = "HTTP/1.1 %d %s\r\n" % (status, "Partial Content" if status == 206 else "OK")
        head += "ETag: %s\r\nCache-Control: max-age=3600\r\nContent-Type: application/octet-stream\r\n" % etag
        if self.ranges:
            head += "Accept-Ranges: bytes\r\n"
        if status == 206:
            head += "Content-Range: bytes %d-%d/%d\r\n" % (first, last, content.size)
        head += "Content-Length: %d\r\n\r\n" % (last - first + 1)
        # Recorded before the head is sent: the proxy cannot send its next request
        # before it has this head, so `served` is in the order the proxy asked.
        with self.lock:
            self.served.append((content.version, first, last, status))
        conn.sendall(head.encode())
        offset = first
        while offset <= last:
            n = min(256 * 1024, last + 1 - offset)
            conn.sendall(content.read(offset, n))
            with self.lock:
                self.body_bytes += n
            offset += n
            if self.chunk_delay:
                time.sleep(self.chunk_delay)  # a thin link, so a kill lands mid-slice
        return True


def slice_config(origin, cache_dir, log_dir, extra=""):
    cache = f"""
[cache]
enabled = true
dir = "{cache_dir}"
max_size = "4 GiB"
max_object_size = "2 GiB"
min_free_disk = "0 B"
range_fetch_whole_max = "1 MiB"
slice_size = "1 MiB"
{extra}
"""
    return base_config([origin.port], extra=cache, log_dir=log_dir, workers=2)


def fetch(proxy, url, first=None, last=None, timeout=60):
    """GET through the proxy; returns (status, headers, body, complete)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)
    try:
        headers = {} if first is None else {"Range": "bytes=%d-%d" % (first, last)}
        conn.request("GET", url, headers=headers)
        res = conn.getresponse()
        try:
            body, complete = res.read(), True
        except http.client.IncompleteRead as e:
            body, complete = e.partial, False
        return res.status, {k.lower(): v for k, v in res.getheaders()}, body, complete
    finally:
        conn.close()


def metrics_text(proxy):
    host, port = proxy.admin.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def metric(text, name):
    m = re.search(r"^%s (\d+)" % name, text, re.M)
    assert m, name
    return int(m.group(1))


@pytest.fixture
def big_origin():
    o = SliceOrigin(1 << 30)
    yield o
    o.close()


def test_twenty_parallel_clients_read_random_ranges_of_one_gib(big_origin, tmp_path):
    origin = big_origin
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        rnd = random.Random(15)
        # The first request makes the object known (the probe); then 20 clients.
        plan = [[(512 * MiB, 513 * MiB - 1)]]
        for _ in range(20):
            reqs = []
            for _ in range(4):
                length = rnd.randint(1 * MiB, 8 * MiB)
                first = rnd.randrange(0, (1 << 30) - length)
                reqs.append((first, first + length - 1))
            plan.append(reqs)
        errors = []

        def client(reqs):
            for first, last in reqs:
                status, headers, body, complete = fetch(p, url, first, last)
                if status != 206 or not complete:
                    errors.append(("status", status, complete, first, last))
                elif headers.get("content-range") != "bytes %d-%d/%d" % (first, last, 1 << 30):
                    errors.append(("content-range", headers.get("content-range")))
                elif body != origin.content.read(first, last - first + 1):
                    errors.append(("bytes differ", first, last))

        client(plan[0])
        threads = [threading.Thread(target=client, args=(r,)) for r in plan[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:5]
        needed = set()
        for reqs in plan:
            for first, last in reqs:
                needed.update(range(first // MiB, last // MiB + 1))
        needed_bytes = len(needed) * MiB
        fetched = [(f, l) for (_, f, l, s) in origin.served]
        assert all(s == 206 for (_, _, _, s) in origin.served)
        assert len(fetched) == len(set(fetched)), "a slice was fetched twice"
        assert set(f // MiB for f, _ in fetched) == needed
        print("origin bytes", origin.body_bytes, "needed", needed_bytes, "slices", len(needed))
        assert origin.body_bytes <= 1.05 * needed_bytes, (origin.body_bytes, needed_bytes)
        lines = p.access_lines(81)
        assert {line["cache"] for line in lines} <= {"MISS", "PARTIAL", "HIT"}
        assert all(line["slice"] == "sliced" for line in lines)
        assert sum(line["upstream_bytes"] for line in lines) >= origin.body_bytes
        m = metrics_text(p)
        assert metric(m, "portcullis_cache_slice_fetches_total") == len(needed)
        assert metric(m, "portcullis_cache_slice_fetched_bytes_total") == needed_bytes
        assert metric(m, "portcullis_cache_slice_hits_total") > 0
        # Read again: every byte from the cache now.
        before = origin.body_bytes
        first, last = plan[3][0]
        status, _, body, _ = fetch(p, url, first, last)
        assert status == 206 and body == origin.content.read(first, last - first + 1)
        assert origin.body_bytes == before
        assert p.access_lines(82)[-1]["cache"] == "HIT"
        p.finish()
    finally:
        p.stop()


def test_a_version_change_never_mixes_bytes(tmp_path):
    size = 48 * MiB
    origin = SliceOrigin(size)
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        v1 = origin.content
        status, _, body, _ = fetch(p, url, 8 * MiB, 16 * MiB - 1)
        assert status == 206 and body == v1.read(8 * MiB, 8 * MiB)
        origin.set_version("v2")
        v2 = origin.content
        # Slices 8-15 are stored (v1); 16 is fetched with If-Range "v1": the
        # origin answers 200 (v2), so the client is cut short after the v1 part.
        status, headers, body, complete = fetch(p, url, 8 * MiB, 20 * MiB - 1)
        assert not complete
        assert body == v1.read(8 * MiB, len(body))
        assert p.access_lines(2)[-1]["slice"] == "changed"
        # The old version's descriptor and slices are gone: v2 whole.
        status, headers, body, complete = fetch(p, url, 8 * MiB, 20 * MiB - 1)
        assert status == 206 and complete and body == v2.read(8 * MiB, 12 * MiB)
        assert headers["etag"] == '"v2"'
        status, headers, body, complete = fetch(p, url)
        assert status == 200 and complete and body == v2.read(0, size)
        assert p.access_lines(4)[-1]["cache"] == "PARTIAL"
        p.finish()
    finally:
        p.stop()
        origin.close()


def wait_objects(proxy, n, deadline=15.0):
    """The index loads in the background after a start: wait (bounded) for n objects."""
    end = time.monotonic() + deadline
    while metric(metrics_text(proxy), "portcullis_cache_objects") < n:
        assert time.monotonic() < end, "cache index not loaded"
        time.sleep(0.05)  # polling a gauge with a deadline


def test_restart_and_kill_never_serve_a_wrong_slice(tmp_path):
    size = 32 * MiB
    origin = SliceOrigin(size, chunk_delay=0.004)
    config = slice_config(origin, tmp_path / "cache", str(tmp_path))
    url = "http://127.0.0.1:%d/obj" % origin.port
    p = Proxy(config, tmpdir=str(tmp_path))
    try:
        status, _, body, _ = fetch(p, url, 2 * MiB, 6 * MiB - 1)
        assert status == 206 and body == origin.content.read(2 * MiB, 4 * MiB)
        # kill -9 while slices are being filled.
        served_before = len(origin.served)
        t = threading.Thread(target=lambda: fetch(p, url, 10 * MiB, 30 * MiB - 1, timeout=20))
        t.start()
        end = time.monotonic() + 20
        while len(origin.served) < served_before + 3 and time.monotonic() < end:
            time.sleep(0.01)  # polling a counter with a deadline
        p.proc.send_signal(signal.SIGKILL)
        p.proc.wait()
        t.join(20)
    finally:
        p.stop()
    p = Proxy(config, tmpdir=str(tmp_path))
    try:
        status, _, body, complete = fetch(p, url)
        assert status == 200 and complete and body == origin.content.read(0, size)
        p.finish()
    finally:
        p.stop()
    before = origin.body_bytes
    # A graceful restart: everything is served from the stored slices.
    p = Proxy(config, tmpdir=str(tmp_path))
    try:
        wait_objects(p, 33)  # 32 slices and the descriptor
        for first, last in [(0, size - 1), (3 * MiB + 7, 17 * MiB + 5), (size - 5, size - 1)]:
            status, _, body, complete = fetch(p, url, first, last)
            assert status == 206 and complete, (first, last)
            assert body == origin.content.read(first, last - first + 1), (first, last)
        assert origin.body_bytes == before
        p.finish()
    finally:
        p.stop()
        origin.close()


def test_an_origin_that_ignores_ranges_falls_back(tmp_path):
    size = 6 * MiB
    origin = SliceOrigin(size, ranges=False)
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        status, headers, body, complete = fetch(p, url, 3 * MiB, 4 * MiB - 1)
        # Today's behaviour: the range goes to the origin, which answers 200 with everything.
        assert status == 200 and complete and body == origin.content.read(0, size)
        line = p.access_lines(1)[-1]
        assert line["slice"] == "unsupported"
        assert line["cache"] == "MISS"
        p.finish()
    finally:
        p.stop()
        origin.close()


def test_a_whole_get_above_slice_above_is_stored_as_slices(tmp_path):
    size = 20 * MiB + 12345  # above the default slice_above (16 MiB)
    origin = SliceOrigin(size)
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        status, _, body, complete = fetch(p, url)
        assert status == 200 and complete and body == origin.content.read(0, size)
        assert p.access_lines(1)[-1]["slice"] == "sliced"
        before = origin.body_bytes
        # Ranges and the whole object again, from the slices alone.
        for first, last in [(5 * MiB - 3, 9 * MiB + 2), (size - 100, size - 1)]:
            status, _, body, complete = fetch(p, url, first, last)
            assert status == 206 and complete and body == origin.content.read(first, last - first + 1)
        status, _, body, complete = fetch(p, url)
        assert status == 200 and complete and body == origin.content.read(0, size)
        assert origin.body_bytes == before
        assert [line["cache"] for line in p.access_lines(4)[1:]] == ["HIT", "HIT", "HIT"]
        p.finish()
    finally:
        p.stop()
        origin.close()


def test_a_range_near_the_start_of_an_unknown_large_object_is_sliced(tmp_path):
    size = 8 * MiB
    origin = SliceOrigin(size)
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        # Within range_fetch_whole_max (1 MiB here): fetched whole first, too big,
        # so the slices it needs are asked for instead of the bare range.
        status, _, body, complete = fetch(p, url, 100, 2 * MiB)
        assert status == 206 and complete and body == origin.content.read(100, 2 * MiB - 99)
        assert [(f, l, s) for (_, f, l, s) in origin.served] == [
            (0, size - 1, 200), (0, MiB - 1, 206), (MiB, 2 * MiB - 1, 206), (2 * MiB, 3 * MiB - 1, 206)]
        before = len(origin.served)
        status, _, body, complete = fetch(p, url, 100, 2 * MiB)
        assert status == 206 and complete and body == origin.content.read(100, 2 * MiB - 99)
        assert len(origin.served) == before
        assert [line["cache"] for line in p.access_lines(2)] == ["MISS", "HIT"]
        p.finish()
    finally:
        p.stop()
        origin.close()
