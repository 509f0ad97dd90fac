"""Running behind a load balancer (issue #18): the admin listener's /healthz
turns to "draining" at SIGTERM while the node keeps serving for
[server] drain_delay, so the balancer moves away before the node stops."""
import signal
import time
import urllib.error
import urllib.request

from harness import Proxy, base_config, free_port, get


def healthz(p):
    try:
        with urllib.request.urlopen("http://%s/healthz" % p.admin, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_sigterm_turns_healthz_to_draining_while_requests_are_still_served(origin, tmp_path):
    p = Proxy(base_config([origin.port], extra="") .replace(
        "workers = 1", 'workers = 1\ndrain_delay = "30s"'), tmpdir=str(tmp_path))
    assert healthz(p) == (200, b"ok\n")
    p.signal(signal.SIGTERM)
    stopping = p.wait_event("stopping")
    assert stopping["drain_delay_ms"] == 30000
    assert healthz(p) == (503, b"draining\n")
    # Still accepting and serving: the balancer has not noticed yet.
    assert get(p.port, "http://127.0.0.1:%d/a" % origin.port).status == 200
    assert p.proc.poll() is None
    # A second SIGTERM does not wait out the delay.
    p.signal(signal.SIGTERM)
    assert p.proc.wait(15) == 0


def test_drain_delay_ends_by_itself(origin, tmp_path):
    p = Proxy(base_config([origin.port]).replace("workers = 1", 'workers = 1\ndrain_delay = "300ms"'),
              tmpdir=str(tmp_path))
    started = time.monotonic()
    p.signal(signal.SIGTERM)
    p.wait_event("drained")
    assert p.proc.wait(15) == 0
    assert time.monotonic() - started >= 0.3


# ---------------------------------------------------------------- PROXY protocol

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402

from harness import Reader, curl  # noqa: E402
from test_tls_port import tls_init, tls_port  # noqa: E402

BALANCER = "127.0.0.3"


def proxy_protocol_config(origin, tmp_path):
    text = base_config([origin.port], log_dir=str(tmp_path))
    text = text.replace('local = ["127.0.0.1/32"]', 'local = ["127.0.0.1/32", "127.0.0.5/32"]')
    return text.replace("workers = 1", 'workers = 1\nproxy_protocol_from = ["%s/32"]' % BALANCER)


def via_balancer(p, header, request, source=BALANCER):
    sock = socket.create_connection(("127.0.0.1", p.port), timeout=10, source_address=(source, 0))
    with sock:
        sock.sendall(header + request)
        return Reader(sock, 10).read_response(), sock.getsockname()


def test_the_carried_client_address_decides_and_is_logged(origin, tmp_path):
    p = Proxy(proxy_protocol_config(origin, tmp_path), tmpdir=str(tmp_path))
    request = b"GET http://127.0.0.1:%d/pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % origin.port
    header = b"PROXY TCP4 127.0.0.5 127.0.0.1 40001 %d\r\n" % p.port
    r, balancer = via_balancer(p, header, request)
    assert r.status == 200, r
    # A client the rules do not know, carried by the same balancer: refused as itself.
    r2, _ = via_balancer(p, b"PROXY TCP4 10.9.9.9 127.0.0.1 40002 %d\r\n" % p.port, request)
    assert r2.status == 403
    lines = p.access_lines(2)
    assert lines[0]["client"] == "127.0.0.5:40001"
    assert lines[0]["balancer"] == "%s:%d" % balancer
    assert lines[1]["client"] == "10.9.9.9:40002" and lines[1]["rule"] == "default-deny"
    p.finish()


def test_a_balancer_must_send_the_header_and_others_may_not(origin, tmp_path):
    p = Proxy(proxy_protocol_config(origin, tmp_path), tmpdir=str(tmp_path))
    request = b"GET http://127.0.0.1:%d/pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % origin.port
    # From the balancer without a header: closed, and the event says why.
    seen = len(p.events)
    sock = socket.create_connection(("127.0.0.1", p.port), timeout=10, source_address=(BALANCER, 0))
    with sock:
        sock.sendall(request)
        try:
            assert sock.recv(100) == b""  # closed without an answer ...
        except ConnectionResetError:
            pass  # ... or reset, the request unread
    ev = p.wait_event("proxy_protocol_refused", seen=seen)
    assert ev["client"].startswith(BALANCER) and "no PROXY protocol header" in ev["limit"]
    # From anyone else, a PROXY header is not read: 400, never forwarded.
    r, _ = via_balancer(p, b"PROXY TCP4 10.9.9.9 127.0.0.1 1 2\r\n", request, source="127.0.0.1")
    assert r.status == 400
    assert origin.count("/pp") == 0
    p.finish()



def test_real_haproxy_with_send_proxy_v2(origin, tmp_path):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert os.path.exists(haproxy), "haproxy is not installed (packaging/build-deps.sh --test)"
    p = Proxy(proxy_protocol_config(origin, tmp_path), tmpdir=str(tmp_path))
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"""
global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend proxies
  bind 127.0.0.1:{front}
  default_backend nodes
backend nodes
  server node1 127.0.0.1:{p.port} send-proxy-v2 source {BALANCER}
""")
    ha = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:  # haproxy is up when its port accepts
            try:
                socket.create_connection(("127.0.0.1", front), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and ha.poll() is None, ha.stderr.read()
                time.sleep(0.05)
        out = curl(["-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.5",
                    "-x", "http://127.0.0.1:%d" % front, "http://127.0.0.1:%d/ha" % origin.port])
        assert out.stdout == b"200", out.stderr
        line = [x for x in p.access_lines(1) if x["url"].endswith("/ha")][-1]
        assert line["client"].startswith("127.0.0.5:")
        assert line["balancer"].startswith(BALANCER + ":")
    finally:
        ha.terminate()
        ha.wait(10)
    p.finish()


def test_proxy_header_before_the_tls_handshake(origin, tmp_path):
    # HAProxy's send-proxy-v2 to a TLS port: the header comes first, in clear,
    # then the ClientHello; the carried address decides and is logged.
    pki = str(tmp_path / "pki")
    tls_init(pki)
    text = proxy_protocol_config(origin, tmp_path).replace(
        'listen = ["127.0.0.1:0"]\n',
        'listen = ["127.0.0.1:0"]\nlisten_tls = ["127.0.0.1:0"]\n'
        'tls_certificate = "%s/server.crt"\ntls_key = "%s/server.key"\n' % (pki, pki), 1)
    p = Proxy(text, tmpdir=str(tmp_path))
    port = tls_port(p)
    context = ssl.create_default_context(cafile=pki + "/ca.crt")
    request = b"GET http://127.0.0.1:%d/pp-tls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % origin.port
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(BALANCER, 0))
    balancer = sock.getsockname()
    sock.sendall(b"PROXY TCP4 127.0.0.5 127.0.0.1 40007 %d\r\n" % port)
    with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
        tls.sendall(request)
        r = Reader(tls, 10).read_response()
    assert r.status == 200, r
    line = p.access_lines(1)[0]
    assert line["client"] == "127.0.0.5:40007"
    assert line["balancer"] == "%s:%d" % balancer
    assert origin.count("/pp-tls") == 1
    p.finish()
