"""Robustness: the real binary under hostile clients, broken origins and hostile conditions.

Every test ends by stopping the daemon with SIGTERM and asserting it exited 0
without a sanitizer report on stderr (so the same file checks an ASan build).
Every wait is on a socket or an event with a deadline; the only sleeps pace
the bytes of deliberately slow clients and the SIGHUP storm.
"""
import os
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from harness import (BIN, SANITIZER_REPORT, Proxy, Reader, Response, ScriptedNameserver,  # noqa: F401
                     ThreadedAcceptor, base_config, connect, fault_config, get, start_proxy)
from origin import body_of_size

# 10,000 held connections need more descriptors than the usual 1,024; the
# daemon inherits this limit from the test process. Root may raise the hard limit.
_SOFT, _HARD = resource.getrlimit(resource.RLIMIT_NOFILE)
_WANT = 32768
if os.geteuid() == 0 and _HARD != resource.RLIM_INFINITY and _HARD < _WANT:
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_WANT, _WANT))
        _HARD = _WANT
    except (ValueError, OSError):
        pass
_WANT = _WANT if _HARD == resource.RLIM_INFINITY else min(_HARD, _WANT)
if _SOFT != resource.RLIM_INFINITY and _SOFT < _WANT:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_WANT, _HARD))

MIB = 1024 * 1024


def _is_asan_build():
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


ASAN = _is_asan_build()


# ---------------------------------------------------------------- the daemon




# ---------------------------------------------------------------- raw clients


def assert_serves(p, origin, path="/alive", deadline=10.0):
    """The daemon is up and still forwards a normal request."""
    r = get(p.port, origin.url(path), deadline)
    assert r is not None and r.status == 200 and r.complete, r
    assert r.body == b"hello from origin\n"


# ---------------------------------------------------------------- a raw origin


class RawOrigin(ThreadedAcceptor):
    """A misbehaving origin: for each request head read on a connection, it
    calls behave(conn, head, stop_event), which returns True to keep reading
    requests on that connection."""

    def __init__(self, behave):
        self.behave = behave
        self.lock = threading.Lock()
        self.paths = []
        super().__init__(backlog=64)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    @property
    def requests(self):
        with self.lock:
            return len(self.paths)

    def handle(self, conn):
        conn.settimeout(5)
        buf = b""
        try:
            while not self.stop.is_set():
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                with self.lock:
                    self.paths.append(head.split(b" ")[1].decode())
                if not self.behave(conn, head, self.stop):
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        super().close(deadline=2.0)


CACHEABLE = b"Cache-Control: max-age=3600\r\n"


def _garbage_status(conn, head, stop):
    conn.sendall(b"SPAM/9.9 what is this\r\n" + CACHEABLE + b"Content-Length: 2\r\n\r\nok")
    return False


def _huge_header(conn, head, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + CACHEABLE + b"X-Big: " + b"a" * MIB +
                 b"\r\nContent-Length: 2\r\n\r\nok")
    return False


def _endless_header(conn, head, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + CACHEABLE)
    line = b"X-Endless: " + b"e" * 1000 + b"\r\n"
    end = time.monotonic() + 5
    for _ in range(16 * 1024):  # at most 16 MiB, at most 5 s: until the proxy hangs up
        if stop.is_set() or time.monotonic() > end:
            break
        conn.sendall(line)
    return False


def _close_mid_body(conn, head, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + CACHEABLE + b"Content-Length: %d\r\n\r\n" % (2 * MIB))
    conn.sendall(body_of_size(256 * 1024))
    return False


def _never_answer(conn, head, stop):
    stop.wait(10)  # holds the connection, says nothing
    return False


BAD_ORIGINS = {
    "garbage-status-line": _garbage_status,
    "1MiB-header": _huge_header,
    "endless-header": _endless_header,
    "close-mid-body": _close_mid_body,
    "never-answers": _never_answer,
}

FIRST_BYTE_TIMEOUT = 2.0
MARGIN = 3.0  # slack for a loaded 2-core machine and ASan


@pytest.mark.parametrize("name", list(BAD_ORIGINS))
def test_misbehaving_origin(name, origin, tmp_path, started):
    bad = RawOrigin(BAD_ORIGINS[name])
    try:
        p = start_proxy(started, fault_config(
            [origin.port, bad.port], tmp_path, cache=True,
            server='first_byte_timeout = "%ds"' % FIRST_BYTE_TIMEOUT), tmp_path)
        seen = 0
        for attempt in range(2):
            # Within the first-byte deadline plus slack: a 504, never a hang.
            r = get(p.port, bad.url("/bad/%s" % name), deadline=FIRST_BYTE_TIMEOUT + MARGIN)
            assert r is not None, "closed without any answer"
            if name == "never-answers":
                assert r.status == 504, r
            else:
                assert r.status in (502, 504) or (r.status == 200 and not r.complete), r
            if r.status in (502, 504):
                assert "portcullis" in r.headers.get("proxy-status", ""), r
            # Nothing was cached: the second request reaches the origin again.
            assert bad.requests > seen, "attempt %d served without the origin" % attempt
            seen = bad.requests
        assert_serves(p, origin)
        p.finish()
    finally:
        bad.close()


def test_origin_body_longer_than_content_length_not_relayed(origin, tmp_path, started):
    # The extra bytes look like a whole response: if the proxy kept the
    # upstream connection and read them as the answer to the next request,
    # the client would see SMUGGLED.
    def behave(conn, head, stop):
        if b" /long " in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"
                         b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nnormal")
        return True

    bad = RawOrigin(behave)
    try:
        p = start_proxy(started, fault_config([origin.port, bad.port], tmp_path), tmp_path)
        s = connect(p.port)
        reader = Reader(s, 10)
        for path, want in (("/long", b"0123456789"), ("/next1", b"normal"),
                           ("/long", b"0123456789"), ("/next2", b"normal"), ("/next3", b"normal")):
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % bad.url(path).encode())
            r = reader.read_response()
            assert r is not None and r.status == 200 and r.complete, (path, r)
            assert r.body == want, (path, r)
        s.close()
        assert b"SMUGGLED" not in reader.buf
        assert_serves(p, origin)
        p.finish()
    finally:
        bad.close()


# ---------------------------------------------------------------- slowloris


SLOW_CLIENTS = 1000
HEADER_TIMEOUT = 3.0


def test_slowloris_cut_by_header_timeout(origin, tmp_path, started):
    p = start_proxy(started, fault_config(
        [origin.port], tmp_path,
        server='header_timeout = "%ds"\nmax_connections_per_client = 2000' % HEADER_TIMEOUT), tmp_path)
    sel = selectors.DefaultSelector()
    began = {}
    closed = {}
    answers = {}
    partial = b"GET %s HTTP/1.1\r\nHost: x\r\n" % origin.url("/slow").encode()
    for i in range(SLOW_CLIENTS):
        s = connect(p.port)
        s.sendall(partial)
        began[s] = time.monotonic()
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        answers[s] = b""

    normal = {}

    def normal_client():
        t0 = time.monotonic()
        normal["response"] = get(p.port, origin.url("/normal"), deadline=10)
        normal["elapsed"] = time.monotonic() - t0

    normal_thread = None
    drip = b"X-Drip: " + b"d" * 64
    end = time.monotonic() + HEADER_TIMEOUT + 2 * MARGIN
    tick = 0
    next_tick = time.monotonic() + 1.0
    while len(closed) < SLOW_CLIENTS and time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0.0, next_tick - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            answers[s] += data
            if not data:
                closed[s] = time.monotonic()
                sel.unregister(s)
        if time.monotonic() >= next_tick:
            # One more byte from every slow client that is still open.
            for s in list(began):
                if s in closed:
                    continue
                try:
                    s.send(drip[tick % len(drip):tick % len(drip) + 1])
                except (BlockingIOError, ConnectionResetError, BrokenPipeError):
                    pass
            tick += 1
            next_tick += 1.0
            if normal_thread is None:  # every slow client is mid-head now
                normal_thread = threading.Thread(target=normal_client)
                normal_thread.start()
    normal_thread.join(15)
    for s in began:
        s.close()
    sel.close()

    r = normal.get("response")
    assert r is not None and r.status == 200 and r.complete, normal
    assert normal["elapsed"] < 1.0, "a normal client waited %.2fs" % normal["elapsed"]
    assert len(closed) == SLOW_CLIENTS, "%d slow clients still open" % (SLOW_CLIENTS - len(closed))
    late = [closed[s] - began[s] for s in closed if closed[s] - began[s] > HEADER_TIMEOUT + MARGIN]
    assert not late, "cut after %.1fs" % max(late)
    cuts = sorted(closed[s] - began[s] for s in closed)
    print("\nslowloris: normal client answered in %.3fs; slow clients cut after %.2f-%.2fs"
          % (normal["elapsed"], cuts[0], cuts[-1]))
    for s, data in answers.items():
        assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert_serves(p, origin)
    p.finish()


# ---------------------------------------------------------------- many idle connections


IDLE = 10000
MAX_CONNECTIONS = 10100
# The goal: under 64 MiB with 1,000 idle keep-alive clients. Beyond it, what
# each idle connection costs (RSS growth / connections, over 10,000): the
# start-up RSS holds the shared libraries (libldap brings GnuTLS), which no
# connection adds to.
GOAL_CLIENTS = 1000
RSS_BOUND_MIB = 512 if ASAN else 64
PER_CONNECTION_BOUND_KIB = 48 if ASAN else 6


def test_idle_keepalive_memory_and_connection_cap(origin, tmp_path, started):
    p = start_proxy(started, fault_config(
        [origin.port], tmp_path,
        server="max_connections = %d\nmax_connections_per_client = %d" % (MAX_CONNECTIONS, MAX_CONNECTIONS)),
        tmp_path)
    rss_start = p.rss_kib()
    held = []
    try:
        request = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % origin.url("/idle").encode()
        # Small batches: the threaded test origin has a short listen queue,
        # and the proxy reuses its pooled upstream connections batch after batch.
        for batch in range(IDLE // 25):
            socks = [connect(p.port) for _ in range(25)]
            for s in socks:
                s.sendall(request)
            for s in socks:
                r = Reader(s, 15).read_response()
                assert r is not None and r.status == 200 and r.complete, r
            held += socks
            if len(held) == GOAL_CLIENTS:
                rss_goal = p.rss_kib()
        rss_idle = p.rss_kib()
        per_connection = (rss_idle - rss_start) / IDLE
        print("\nRSS: %.1f MiB at start, %.1f MiB holding %d idle keep-alive connections "
              "(bound %d MiB), %.1f MiB holding %d: %.2f KiB per connection (bound %d KiB)"
              % (rss_start / 1024, rss_goal / 1024, GOAL_CLIENTS, RSS_BOUND_MIB, rss_idle / 1024,
                 IDLE, per_connection, PER_CONNECTION_BOUND_KIB))
        assert rss_goal < RSS_BOUND_MIB * 1024
        assert per_connection < PER_CONNECTION_BOUND_KIB

        # Fill up to max_connections with silent connections, then one more
        # must be refused at once (503 or a close), not left hanging.
        for _ in range(MAX_CONNECTIONS - IDLE):
            held.append(connect(p.port))
        for _ in range(5):
            s = connect(p.port)
            reader = Reader(s, 1.0)
            r = reader.read_response()
            assert r is None or r.status == 503, r
            if r is not None:
                assert b"connection limit" in r.body
            s.close()

        # Freeing connections lets new clients in again (release is asynchronous: poll).
        for s in held[:200]:
            s.close()
        del held[:200]
        deadline = time.monotonic() + 10
        while True:
            r = get(p.port, origin.url("/after"), deadline=5)
            if (r is not None and r.status == 200) or time.monotonic() > deadline:
                break
        assert r is not None and r.status == 200, r
    finally:
        for s in held:
            s.close()
    p.finish()


# ---------------------------------------------------------------- misbehaving clients


def test_client_disconnects_mid_head_mid_body_mid_response(origin, tmp_path, started):
    p = start_proxy(started, fault_config([origin.port], tmp_path), tmp_path)
    url = origin.url
    for i in range(20):  # mid request head
        s = connect(p.port)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nUser-Ag" % url("/head").encode())
        s.close()
    for i in range(10):  # mid request body (the proxy is streaming it upstream)
        s = connect(p.port)
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" % url("/echo").encode())
        s.sendall(b"b" * 20000)
        s.close()
    for i in range(5):  # mid response, large body
        s = connect(p.port)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url("/size/30000000").encode())
        reader = Reader(s, 10)
        got = 0
        while got < 200_000 and reader._fill():
            got = len(reader.buf)
        assert got >= 200_000
        s.close()
    assert_serves(p, origin)
    p.finish()


def test_client_disconnects_mid_tunnel(origin, tmp_path, started):
    p = start_proxy(started, fault_config([origin.port], tmp_path), tmp_path)
    for i in range(5):
        s = connect(p.port)
        s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (origin.port, origin.port))
        reader = Reader(s, 10)
        r = reader.read_response(head_request=True)
        assert r is not None and r.status == 200, r
        s.sendall(b"GET /size/20000000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        while len(reader.buf) < 200_000 and reader._fill():
            pass
        assert len(reader.buf) >= 200_000
        s.close()
    assert_serves(p, origin)
    p.finish()


def _fast_sized(conn, head, stop):
    # The whole response in one write: the threaded test origin writes head and
    # body separately, and Nagle plus delayed ACKs cost it 40 ms a response.
    k = int(head.split(b" ")[1].rsplit(b"/", 1)[1])
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % k + body_of_size(k))
    return True


def test_thousand_pipelined_requests_in_one_write(origin, tmp_path, started):
    fast = RawOrigin(_fast_sized)
    try:
        p = start_proxy(started, fault_config([origin.port, fast.port], tmp_path), tmp_path)
        n = 1000
        sizes = [i % 50 + 1 for i in range(n)]
        reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % fast.url("/size/%d" % k).encode()
                        for k in sizes[:-1])
        reqs += b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % fast.url(
            "/size/%d" % sizes[-1]).encode()
        s = connect(p.port, 30)
        # Write from a thread and read here, so neither side's buffers can wedge the other.
        writer = threading.Thread(target=s.sendall, args=(reqs,))
        writer.start()
        reader = Reader(s, 30)
        for i, k in enumerate(sizes):
            r = reader.read_response()
            assert r is not None and r.status == 200 and r.complete, (i, r)
            assert r.body == body_of_size(k), i
        assert reader.wait_closed()
        writer.join(10)
        s.close()
        assert fast.requests == n
        assert_serves(p, origin)
        p.finish()
    finally:
        fast.close()


# ---------------------------------------------------------------- DNS failure


DNS_TIMEOUT = 2.0


class SilentNameserver:
    """A UDP socket on 127.0.0.1 that takes DNS queries and never answers:
    a lookup timeout without depending on how this machine's network fails."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                self.sock.recvfrom(4096)
                self.queries += 1
            except (socket.timeout, OSError):
                continue

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.mark.parametrize("resolver", ["system", "silent"])
def test_dns_failure_answered_clearly_while_others_are_served(resolver, origin, tmp_path, started):
    ns = SilentNameserver() if resolver == "silent" else None
    dns = 'timeout = "%ds"\n' % DNS_TIMEOUT
    if ns:
        dns += 'nameservers = ["127.0.0.1:%d"]\nhosts_file = false\n' % ns.port
    cfg = fault_config([origin.port], tmp_path, extra="""
[[rule]]
name = "local-to-web"
allow = { from = "local", to = "web" }

[dns]
""" + dns)
    cfg = cfg.replace("[destinations]\n", '[destinations]\nweb = { hosts = ["*"], ports = [80] }\n', 1)
    try:
        p = start_proxy(started, cfg, tmp_path)
        host = "does-not-exist.invalid" if resolver == "system" else "no-answer.portcullis-test.example"
        result = {}

        def lookup():
            t0 = time.monotonic()
            # evdns tries twice: two timeouts plus slack, still a bounded wait.
            result["r"] = get(p.port, "http://%s/" % host, deadline=2 * DNS_TIMEOUT + MARGIN)
            result["elapsed"] = time.monotonic() - t0

        t = threading.Thread(target=lookup)
        t.start()
        if ns:  # the lookup is really pending while the others go through
            end = time.monotonic() + 5
            while ns.queries == 0 and time.monotonic() < end:
                time.sleep(0.01)  # polling a counter with a deadline
            assert ns.queries > 0
        for i in range(5):
            r = get(p.port, origin.url("/meanwhile"), deadline=2 + MARGIN)
            assert r is not None and r.status == 200, r
        if ns:
            assert t.is_alive(), "the lookup ended before its timeout"
        t.join(2 * DNS_TIMEOUT + 2 * MARGIN)
        r = result.get("r")
        assert r is not None and r.status in (502, 504), result
        assert re.search(r"error=dns_(error|timeout)", r.headers.get("proxy-status", "")), r
        assert host.encode() in r.body, r.body[:500]
        print("\nDNS failure (%s resolver) answered %d in %.2fs" % (resolver, r.status, result["elapsed"]))
        assert_serves(p, origin)
        p.finish()
    finally:
        if ns:
            ns.close()


def test_dns_down_serves_stored_copy_only_to_clients_allowed_its_address(origin, tmp_path, started):
    """The thin-link case: after DNS stops answering, a stored copy is still
    served (stale on error), but only when the rules allow this client the
    address the copy was fetched from; without that, the DNS error stands."""
    ns = ScriptedNameserver()
    host = "thinlink.portcullis-test.example"
    url = "http://%s:%d/c/thin?cc=max-age=0&size=4000" % (host, origin.port)
    dns = '\n[dns]\nnameservers = ["127.0.0.1:%d"]\nhosts_file = false\nmin_ttl = "0s"\n' \
          'negative_ttl = "0s"\ntimeout = "2s"\n' % ns.port
    cache_dir = str(tmp_path / "thin-cache")
    try:
        p = start_proxy(started, fault_config([origin.port], tmp_path, cache=cache_dir, extra=dns), tmp_path)
        first = get(p.port, url, deadline=5 + MARGIN)
        assert first is not None and first.status == 200, first
        ns.failing = True
        again = get(p.port, url, deadline=5 + MARGIN)
        assert again is not None and again.status == 200 and again.body == first.body, again
        assert origin.count("/c/thin") == 1
        log = p.access_lines(2)
        assert [line["cache"] for line in log] == ["MISS", "STALE"], log
        p.finish()
        # Same cache, but the rules no longer name 127.0.0.0/8 (a host rule
        # alone never opens a special range): the copy is not served.
        hosts_only = fault_config([origin.port], tmp_path, cache=cache_dir, extra=dns).replace(
            'cidrs = ["127.0.0.0/8"]', 'hosts = ["%s"]' % host, 1)
        q = start_proxy(started, hosts_only, tmp_path)
        refused = get(q.port, url, deadline=5 + MARGIN)
        # (evdns reports a SERVFAIL from its only server as a timeout.)
        assert refused is not None and refused.status in (502, 504), refused
        assert re.search(r"error=dns_(error|timeout)", refused.headers.get("proxy-status", "")), refused
        assert origin.count("/c/thin") == 1
        q.finish()
    finally:
        ns.close()


def test_dns_answers_are_counted_and_freed_after_their_ttl(origin, tmp_path, started):
    """Issue #12: the DNS answer cache is a gauge in /metrics, and the
    worker's once-a-second sweep frees answers whose TTL ran out even when
    no further lookup comes (the cap itself is unit-tested)."""
    import urllib.request

    def entries(p):
        with urllib.request.urlopen("http://%s/metrics" % p.admin, timeout=5) as r:
            m = re.search(rb"^portcullis_dns_cache_entries (\d+)$", r.read(), re.M)
        assert m, "no portcullis_dns_cache_entries sample"
        return int(m.group(1))

    def wait_for(what, fn, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if fn():
                return
            time.sleep(0.05)  # polling a gauge with a deadline
        raise AssertionError("timed out waiting for " + what)

    ns = ScriptedNameserver()
    dns = '\n[dns]\nnameservers = ["127.0.0.1:%d"]\nhosts_file = false\nmin_ttl = "3s"\n' \
          'max_ttl = "3s"\ntimeout = "2s"\n' % ns.port
    try:
        p = start_proxy(started, fault_config([origin.port], tmp_path, extra=dns), tmp_path)
        assert entries(p) == 0
        names = ["n%d.portcullis-test.example" % i for i in range(5)]
        for host in names:
            r = get(p.port, "http://%s:%d/" % (host, origin.port), deadline=5 + MARGIN)
            assert r is not None and r.status == 200, r
        wait_for("five cached names", lambda: entries(p) == len(names))
        wait_for("the expired names swept", lambda: entries(p) == 0)
    finally:
        ns.close()


# ---------------------------------------------------------------- cache on a full disk


def test_full_cache_filesystem_keeps_proxying_without_caching(origin, tmp_path, started):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(cache_dir)],
                       capture_output=True, timeout=20)
    if m.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % m.stderr.decode(errors="replace").strip())
    try:
        p = start_proxy(started, fault_config([origin.port], tmp_path, cache=str(cache_dir)), tmp_path)

        def fetch(path):
            r = get(p.port, origin.url(path))
            assert r is not None and r.status == 200 and r.complete, r
            return r.body

        # While there is room, the cache works (this test would pass vacuously otherwise).
        before = "/c/before?size=20000"
        assert fetch(before) == fetch(before) == body_of_size(20000, seed=b"/c/before")
        assert origin.count("/c/before") == 1

        # Fill the file system to the last block. Unbuffered: a short last
        # write must not leave bytes in a buffer for close() to fail on
        # (where the last block falls depends on what else is in the cache
        # directory, e.g. its portcullis.lock).
        with open(cache_dir / "filler", "wb", buffering=0) as f:
            for _ in range(200):  # 200 x 16 KiB > 2 MiB: the loop ends on ENOSPC
                try:
                    f.write(b"\0" * 16384)
                    f.flush()
                except OSError:
                    break
            else:
                pytest.fail("tmpfs never filled up")
        st = os.statvfs(cache_dir)
        assert st.f_bavail == 0

        after = "/c/after?size=300000"
        for _ in range(3):
            assert fetch(after) == body_of_size(300000, seed=b"/c/after")
        assert origin.count("/c/after") == 3
        small = "/c/small?size=100"
        assert fetch(small) == fetch(small) == body_of_size(100, seed=b"/c/small")
        assert origin.count("/c/small") == 2
        assert fetch(before) == body_of_size(20000, seed=b"/c/before")  # still served
        first = p.wait_event("cache_store_failing")  # the event log is written in batches
        assert "min_free_disk" in first["error"] or "write" in first["error"]

        # The disk recovers: caching resumes, and the event log says so.
        os.unlink(cache_dir / "filler")
        again = "/c/again?size=5000"
        assert fetch(again) == fetch(again) == body_of_size(5000, seed=b"/c/again")
        assert origin.count("/c/again") == 1
        p.wait_event("cache_store_recovered")
        failing = [e for e in p.events if e.get("event") == "cache_store_failing"]
        assert len(failing) == 1, failing  # said once, not per failed request
        assert_serves(p, origin)
        p.finish()
    finally:
        for p in started:
            if p.proc and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(10)
        subprocess.run(["umount", str(cache_dir)], capture_output=True, timeout=20)


# ---------------------------------------------------------------- SIGHUP storm


def test_sighup_storm_under_load(origin, tmp_path, started):
    p = start_proxy(started, fault_config([origin.port], tmp_path), tmp_path)
    done = threading.Event()

    def storm():
        for _ in range(50):
            p.signal(signal.SIGHUP)
            time.sleep(0.1)  # pacing the signals, not synchronising
        done.set()

    t = threading.Thread(target=storm)
    t.start()
    ok = 0
    keep = connect(p.port)
    keep_reader = Reader(keep, 60)
    end = time.monotonic() + 30
    for i in range(20000):  # bounded in count and time; normally ends with the storm
        if done.is_set() or time.monotonic() > end:
            break
        if i % 2:
            r = get(p.port, origin.url("/size/%d" % (i % 300 + 1)), deadline=10)
        else:  # and a long-lived keep-alive connection across reloads
            keep.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % origin.url("/size/%d" % (i % 300 + 1)).encode())
            r = keep_reader.read_response()
        assert r is not None and r.status == 200 and r.complete, (i, r)
        assert r.body == body_of_size(i % 300 + 1), i
        ok += 1
    t.join(15)
    keep.close()
    assert done.is_set()
    p.wait_event("reload", deadline=10)
    assert not [e for e in p.events if e.get("event") == "reload_failed"]
    print("\nSIGHUP storm: %d requests, %d reloads logged"
          % (ok, sum(1 for e in p.events if e.get("event") == "reload")))
    assert_serves(p, origin)
    p.finish()
