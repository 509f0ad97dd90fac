"""Abuse defence: the scanner block at accept and the per-client limits."""
import time

from harness import Proxy, base_config, curl, raw_exchange, status_of


def test_scanner_is_blocked_at_accept_after_repeated_refusals(origin, tmp_path):
    # 127.0.0.1 is outside every allowed source set: the scanner's position.
    cfg = f"""
[server]
listen = ["127.0.0.1:0"]
workers = 1
[log]
access = "{tmp_path}/access.log"
events = "-"
[admin]
listen = "127.0.0.1:0"
[abuse]
refusals_to_block = 5
refusal_window = "1m"
block_time = "1m"
[sources]
customers = ["10.0.0.0/8"]
[destinations]
web = {{ hosts = ["*"], ports = [80, 443] }}
[[rule]]
name = "customers-web"
allow = {{ from = "customers", to = "web" }}
"""
    p = Proxy(cfg, tmpdir=str(tmp_path))
    try:
        req = b"GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n"
        for _ in range(5):
            assert status_of(raw_exchange(p.port, req)) == 403
        blocked = p.wait_event("client_blocked")
        assert blocked["client"] == "127.0.0.1"
        # Blocked: the connection is closed before any byte is read or answered.
        try:
            answer = raw_exchange(p.port, req)
        except ConnectionResetError:
            answer = b""
        assert answer == b""
    finally:
        p.stop()


def test_clients_of_allowed_networks_are_not_blocked_by_default(origin, tmp_path):
    extra = """
[abuse]
refusals_to_block = 3
"""
    p = Proxy(base_config([origin.port], extra=extra), tmpdir=str(tmp_path))
    try:
        denied = b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n"  # port not in the set
        for _ in range(6):
            assert status_of(raw_exchange(p.port, denied)) == 403
        ok = raw_exchange(p.port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          % origin.url("/").encode())
        assert status_of(ok) == 200
    finally:
        p.stop()


def test_request_rate_limit_answers_429(origin, tmp_path):
    extra = """
[[limit]]
name = "fair-share"
from = "local"
requests_per_second = 1
burst = 2
"""
    p = Proxy(base_config([origin.port], extra=extra), tmpdir=str(tmp_path))
    try:
        url = origin.url("/r")
        # Three requests on one connection in well under a second: burst 2, then 429.
        r = curl(["-x", p.url, "-s", "-w", "%{http_code}\\n"] + ["-o", "/dev/null", url] * 3)
        codes = r.stdout.decode().split()
        assert codes == ["200", "200", "429"]
        assert origin.count("/r") == 2
    finally:
        p.stop()


def test_bandwidth_limit_paces_a_download(origin, tmp_path):
    extra = """
[[limit]]
name = "slow-lane"
from = "local"
bandwidth = "100 KiB"
"""
    p = Proxy(base_config([origin.port], extra=extra), tmpdir=str(tmp_path))
    try:
        start = time.monotonic()
        r = curl(["-x", p.url, "-s", "-o", "/dev/null", "-w", "%{size_download}", origin.url("/size/300000")])
        elapsed = time.monotonic() - start
        assert r.stdout == b"300000"
        # 300 KB at 100 KiB/s cannot arrive in much under ~2.9 s (first burst aside).
        assert elapsed >= 1.8
    finally:
        p.stop()


def test_connection_limit_refuses_fast_and_logs_one_event(origin, tmp_path):
    import socket
    cfg = base_config([origin.port]).replace("workers = 1", "workers = 1\nmax_connections_per_client = 2")
    p = Proxy(cfg, tmpdir=str(tmp_path))
    held = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
            held.append(s)
        # The proxy counts a connection once it has accepted it: a request
        # answered on each proves both are in.
        for s in held:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % origin.url("/").encode())
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        try:
            answer = raw_exchange(p.port, b"GET / HTTP/1.1\r\n\r\n", deadline=5)
        except ConnectionResetError:
            answer = b""  # a request racing the refusal may meet a reset: still refused
        assert answer == b"" or (status_of(answer) == 503 and b"per-client connection limit" in answer)
        assert time.monotonic() - start < 2
        ev = p.wait_event("limit_hit")
        assert ev["limit"] == "max_connections_per_client" and ev["client"] == "127.0.0.1"
    finally:
        for s in held:
            s.close()
        p.stop()
