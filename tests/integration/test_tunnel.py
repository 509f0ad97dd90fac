"""CONNECT tunnels: bytes both ways, intact, in order, with half-close, idle
timeout, backpressure and the per-client bandwidth limit.

The origins here are plain TCP servers (not HTTP): a tunnel relays bytes and
must not care what they are. Every wait is on a socket or a deadline.
"""
import hashlib
import os
import socket
import threading
import time

from harness import Proxy, ThreadedAcceptor, base_config, curl
from origin import body_of_size

MIB = 1024 * 1024


class TcpOrigin(ThreadedAcceptor):
    """Runs serve(conn, results) for each connection in its own thread;
    `results` is a dict the test reads afterwards."""

    def __init__(self, serve):
        self.serve = serve
        self.results = {}
        self.done = threading.Event()
        super().__init__()

    def handle(self, conn):
        conn.settimeout(20)
        try:
            self.serve(conn, self.results)
        except OSError as e:
            self.results["error"] = repr(e)
        finally:
            conn.close()
            self.done.set()


def read_to_eof(s):
    out = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            return bytes(out)
        out += chunk


def open_tunnel(proxy_port, target_port, extra=b""):
    """CONNECT through the proxy; returns the socket and any bytes read past the 200."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=20)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n%s"
              % (target_port, target_port, extra))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, "proxy closed before answering CONNECT: %r" % buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return s, rest


def start_proxy(origin_ports, tmp_path, server="", extra=""):
    cfg = base_config(origin_ports, log_dir=str(tmp_path), extra=extra)
    if server:
        cfg = cfg.replace("workers = 1\n", "workers = 1\n%s\n" % server, 1)
    return Proxy(cfg, tmpdir=str(tmp_path))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_bytes_pipelined_after_connect_are_relayed(origin, tmp_path):
    p = start_proxy([origin.port], tmp_path)
    try:
        # The request inside the tunnel arrives in the same segment as CONNECT.
        inner = b"GET /size/5000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        s, rest = open_tunnel(p.port, origin.port, extra=inner)
        answer = rest + read_to_eof(s)
        s.close()
        assert answer.startswith(b"HTTP/1.")
        assert answer.split(b"\r\n\r\n", 1)[1] == body_of_size(5000)
    finally:
        p.stop()


def test_client_half_close_still_delivers_the_answer(tmp_path):
    # The origin answers only after the client's EOF: the tunnel must pass the
    # EOF on and keep relaying the other way (RFC 9110 §9.3.6).
    def serve(conn, results):
        got = read_to_eof(conn)
        results["got"] = len(got)
        conn.sendall(hashlib.sha256(got).hexdigest().encode() + body_of_size(3 * MIB))

    o = TcpOrigin(serve)
    p = start_proxy([o.port], tmp_path)
    try:
        s, rest = open_tunnel(p.port, o.port)
        sent = os.urandom(2 * MIB)
        s.sendall(sent)
        s.shutdown(socket.SHUT_WR)
        answer = rest + read_to_eof(s)
        s.close()
        assert answer[:64] == hashlib.sha256(sent).hexdigest().encode()
        assert answer[64:] == body_of_size(3 * MIB)
    finally:
        p.stop()
        o.close()


def test_origin_half_close_still_delivers_the_client_bytes(tmp_path):
    # The origin says everything and shuts its side; the client then sends.
    def serve(conn, results):
        conn.sendall(body_of_size(3 * MIB))
        conn.shutdown(socket.SHUT_WR)
        results["digest"] = hashlib.sha256(read_to_eof(conn)).hexdigest()

    o = TcpOrigin(serve)
    p = start_proxy([o.port], tmp_path)
    try:
        s, rest = open_tunnel(p.port, o.port)
        received = rest + read_to_eof(s)  # the origin's EOF reached us...
        assert received == body_of_size(3 * MIB)
        sent = os.urandom(MIB)
        s.sendall(sent)  # ...and the tunnel still carries our bytes upstream
        s.shutdown(socket.SHUT_WR)
        assert o.done.wait(20)
        assert o.results.get("digest") == hashlib.sha256(sent).hexdigest(), o.results
        # Both sides closed: the proxy ends the tunnel.
        s.settimeout(10)
        assert s.recv(1) == b""
        s.close()
    finally:
        p.stop()
        o.close()


def test_large_transfer_both_ways_at_once_is_intact(tmp_path):
    # An echo origin: what goes up comes back down, while more goes up.
    def serve(conn, results):
        h = hashlib.sha256()
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            conn.sendall(chunk)
        results["digest"] = h.hexdigest()
        conn.shutdown(socket.SHUT_WR)

    o = TcpOrigin(serve)
    p = start_proxy([o.port], tmp_path)
    try:
        s, rest = open_tunnel(p.port, o.port)
        block = os.urandom(MIB)
        total = 64
        up = hashlib.sha256()

        def send_all():
            for i in range(total):
                chunk = block[i:] + block[:i]  # every MiB different
                up.update(chunk)
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)

        writer = threading.Thread(target=send_all)
        writer.start()
        down = hashlib.sha256(rest)
        n = len(rest)
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            down.update(chunk)
            n += len(chunk)
        writer.join(30)
        s.close()
        assert n == total * MIB
        assert down.hexdigest() == up.hexdigest()
        assert o.done.wait(10) and o.results.get("digest") == up.hexdigest()
        line = [x for x in p.access_lines(1) if x.get("method") == "CONNECT"][0]
        assert line["status"] == 200
    finally:
        p.stop()
        o.close()


def test_idle_tunnel_is_closed_after_the_idle_timeout(tmp_path):
    def serve(conn, results):
        results["eof"] = read_to_eof(conn) == b""

    o = TcpOrigin(serve)
    p = start_proxy([o.port], tmp_path, server='tunnel_idle_timeout = "1s"')
    try:
        s, rest = open_tunnel(p.port, o.port)
        start = time.monotonic()
        s.settimeout(15)
        assert rest + read_to_eof(s) == b""
        elapsed = time.monotonic() - start
        s.close()
        assert 0.8 <= elapsed < 10, elapsed
        assert o.done.wait(10)
    finally:
        p.stop()
        o.close()


def test_tunnel_busy_one_way_is_not_idle(tmp_path):
    # Bytes only upstream -> client, slower than the idle timeout is long in
    # total, yet never a whole timeout without a byte.
    def serve(conn, results):
        for _ in range(8):
            conn.sendall(b"x" * 100)
            time.sleep(0.25)  # pacing a deliberately slow origin
        conn.shutdown(socket.SHUT_WR)
        read_to_eof(conn)

    o = TcpOrigin(serve)
    p = start_proxy([o.port], tmp_path, server='tunnel_idle_timeout = "1s"')
    try:
        s, rest = open_tunnel(p.port, o.port)
        s.settimeout(15)
        got = rest
        while len(got) < 800:
            chunk = s.recv(4096)
            assert chunk, "tunnel closed after %d bytes" % len(got)
            got += chunk
        assert got == b"x" * 800
        s.close()
    finally:
        p.stop()
        o.close()


def test_client_that_does_not_read_keeps_proxy_memory_bounded(tmp_path):
    sent = [0]
    total = 512 * MIB

    def serve(conn, results):
        block = b"y" * MIB
        try:
            while sent[0] < total:
                sent[0] += conn.send(block)
        except OSError:
            pass

    o = TcpOrigin(serve)
    p = start_proxy([o.port], tmp_path)
    try:
        rss_before = rss_kib(p.proc.pid)
        s, _ = open_tunnel(p.port, o.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        # Wait until the origin is stuck: no progress for half a second.
        deadline = time.monotonic() + 20
        last, still_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = sent[0]
            if now != last:
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since > 0.5:
                break
            time.sleep(0.05)  # polling a counter with a deadline
        grown = rss_kib(p.proc.pid) - rss_before
        # Socket buffers hold some; the proxy itself holds at most a chunk.
        assert sent[0] < 64 * MIB, sent[0]
        assert grown < 16 * 1024, grown
        s.close()
    finally:
        p.stop()
        o.close()


def test_bandwidth_limit_paces_a_tunnel(origin, tmp_path):
    extra = """
[[limit]]
name = "slow-lane"
from = "local"
bandwidth = "100 KiB"
"""
    p = start_proxy([origin.port], tmp_path, extra=extra)
    try:
        start = time.monotonic()
        r = curl(["-p", "-x", p.url, "-s", "-o", "/dev/null", "-w", "%{size_download}",
                  origin.url("/size/300000")])
        elapsed = time.monotonic() - start
        assert r.stdout == b"300000", r.stderr
        # 300 KB at 100 KiB/s cannot arrive in much under ~2.9 s.
        assert elapsed >= 1.8, elapsed
    finally:
        p.stop()


def test_idle_tunnels_hold_no_pipe_or_buffer(tmp_path):
    # Each tunnel moves bytes both ways, then sits idle: it must give back
    # what carried them, so the proxy holds two sockets per tunnel and at most
    # a small pool of spare pipes (32 per worker), not a pipe pair per tunnel.
    def serve(conn, results):
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            conn.sendall(chunk)

    o = TcpOrigin(serve)
    p = start_proxy([o.port], tmp_path, server="max_connections_per_client = 1000")
    tunnels = []
    try:
        fds_before = len(os.listdir("/proc/%d/fd" % p.proc.pid))
        for i in range(100):
            s, rest = open_tunnel(p.port, o.port)
            s.sendall(b"z" * 100_000)
            got = len(rest)
            while got < 100_000:
                chunk = s.recv(65536)
                assert chunk
                got += len(chunk)
            tunnels.append(s)
        held = len(os.listdir("/proc/%d/fd" % p.proc.pid)) - fds_before
        assert 200 <= held <= 200 + 2 * 32, held
    finally:
        for s in tunnels:
            s.close()
        p.stop()
        o.close()
