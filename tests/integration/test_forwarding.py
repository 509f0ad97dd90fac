"""The forwarding engine end to end: real binary, real origin, real clients."""
import hashlib
import json
import socket
import subprocess

import pytest

from harness import Proxy, base_config, curl, raw_exchange, status_of
from origin import CountingListener, body_of_size


@pytest.fixture
def proxy(origin, tmp_path):
    p = Proxy(base_config([origin.port], log_dir=str(tmp_path)), tmpdir=str(tmp_path))
    yield p
    p.stop()


def test_get_through_proxy(proxy, origin):
    r = curl(["-x", proxy.url, "-D", "-", origin.url("/hello")])
    assert r.returncode == 0, r.stderr
    assert b"hello from origin" in r.stdout
    assert b"Via: 1.1 portcullis" in r.stdout
    assert origin.count("/hello") == 1


def test_head_has_no_body(proxy, origin):
    r = curl(["-x", proxy.url, "-I", origin.url("/size/5000")])
    assert r.returncode == 0, r.stderr
    assert b"Content-Length: 5000" in r.stdout


def test_post_with_body_is_streamed_whole(proxy, origin):
    payload = body_of_size(300_000)
    r = subprocess.run(
        ["curl", "-sS", "-x", proxy.url, "--data-binary", "@-", origin.url("/echo")],
        input=payload, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["body_len"] == len(payload)
    assert info["body_sha256"] == hashlib.sha256(payload).hexdigest()


def test_chunked_upload(proxy, origin):
    payload = body_of_size(70_000)
    r = subprocess.run(
        ["curl", "-sS", "-x", proxy.url, "-H", "Transfer-Encoding: chunked",
         "--data-binary", "@-", origin.url("/echo")],
        input=payload, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["body_len"] == len(payload)
    assert info["body_sha256"] == hashlib.sha256(payload).hexdigest()


def test_keep_alive_reuses_client_connection(proxy, origin):
    r = curl(["-v", "-x", proxy.url, origin.url("/a"), origin.url("/b")])
    assert r.returncode == 0, r.stderr
    assert b"Re-using existing connection" in r.stderr or b"Reusing existing connection" in r.stderr
    assert origin.count("/a") == 1 and origin.count("/b") == 1


def test_chunked_and_close_delimited_responses(proxy, origin):
    for path, n in (("/chunked?n=12345", 12345), ("/close-delimited?n=7777", 7777)):
        r = curl(["-x", proxy.url, origin.url(path)])
        assert r.returncode == 0, r.stderr
        assert r.stdout == body_of_size(n)


def test_http10_client_gets_unchunked_body(proxy, origin):
    req = b"GET %s HTTP/1.0\r\n\r\n" % origin.url("/chunked?n=3000").encode()
    out = raw_exchange(proxy.port, req)
    head, body = out.split(b"\r\n\r\n", 1)
    assert status_of(out) == 200
    assert b"chunked" not in head.lower()
    assert body == body_of_size(3000)


def test_pipelined_requests_answered_in_order(proxy, origin):
    reqs = b"".join(
        b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % origin.url("/size/%d" % n).encode()
        for n in (10, 20, 30))
    reqs += b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % origin.url("/size/40").encode()
    out = raw_exchange(proxy.port, reqs)
    assert out.count(b"HTTP/1.1 200") == 4
    positions = [out.find(b"Content-Length: %d\r\n" % n) for n in (10, 20, 30, 40)]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_connect_tunnel(proxy, origin):
    r = curl(["-p", "-x", proxy.url, origin.url("/size/100000")])
    assert r.returncode == 0, r.stderr
    assert r.stdout == body_of_size(100000)


def test_hop_by_hop_removed_and_host_from_uri(proxy, origin):
    req = (b"GET %s HTTP/1.1\r\nHost: wrong.example\r\nConnection: X-Secret, keep-alive\r\n"
           b"X-Secret: 1\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nKeep-Alive: 5\r\n"
           b"TE: trailers\r\nX-Keep: yes\r\nConnection: close\r\n\r\n") % origin.url("/echo").encode()
    out = raw_exchange(proxy.port, req)
    info = json.loads(out.split(b"\r\n\r\n", 1)[1])
    names = {k.lower() for k in info["headers"]}
    assert "x-secret" not in names and "proxy-authorization" not in names
    assert "keep-alive" not in names and "te" not in names
    assert info["headers"].get("X-Keep") == "yes"
    assert info["headers"]["Host"] == "127.0.0.1:%d" % origin.port
    assert info["headers"]["Via"] == "1.1 portcullis"


def test_forwarding_loop_refused(proxy, origin):
    req = b"GET %s HTTP/1.1\r\nHost: x\r\nVia: 1.1 other, 1.1 portcullis\r\n\r\n" % origin.url("/").encode()
    out = raw_exchange(proxy.port, req)
    assert status_of(out) == 508
    assert b"proxy_loop_detected" in out
    assert origin.count("/") == 0


def test_max_forwards_zero_answered_by_proxy(proxy, origin):
    req = b"OPTIONS %s HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n" % origin.url("/mf").encode()
    out = raw_exchange(proxy.port, req)
    assert status_of(out) == 200
    assert origin.count("/mf") == 0


def test_origin_form_gets_informative_400(proxy, origin):
    out = raw_exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status_of(out) == 400
    assert b"forward proxy" in out


def test_origin_down_gives_502(proxy):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    p2cfg = base_config([port])
    p2 = Proxy(p2cfg)
    try:
        out = raw_exchange(p2.port, b"GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: x\r\n\r\n" % port)
        assert status_of(out) == 502
        assert b"Proxy-Status: portcullis; error=connection_refused" in out
    finally:
        p2.stop()


@pytest.mark.parametrize("request_bytes", [
    b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n",
    b"POST http://127.0.0.1:25/ HTTP/1.1\r\nHost: 127.0.0.1:25\r\nContent-Length: 24\r\n\r\nHELO spammer.example\r\n\r\n",
    b"GET http://127.0.0.1:25/ HTTP/1.0\r\n\r\n",
])
def test_port_25_never_reached(tmp_path, request_bytes):
    smtp = CountingListener(25)
    try:
        # Even a config that names port 25 explicitly cannot open it.
        p = Proxy(base_config([25]), tmpdir=str(tmp_path))
        try:
            out = raw_exchange(p.port, request_bytes)
            assert status_of(out) == 403
            assert b"hard:port-25" in out
        finally:
            p.stop()
        assert smtp.connections == 0
    finally:
        smtp.close()


def test_sigterm_stops_cleanly(origin, tmp_path):
    p = Proxy(base_config([origin.port]), tmpdir=str(tmp_path))
    assert p.stop() == 0
