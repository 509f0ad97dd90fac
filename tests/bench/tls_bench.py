#!/usr/bin/env python3
"""TLS proxy port figures (issue #16 item 1), from one run:

1. TLS handshakes per second on one worker: `openssl s_time -new` (a full
   handshake per connection, no session reuse) against listen_tls, with
   `workers = 1` so the proxy uses one core.
3. The verifier pool keeping the loop responsive: 200 clients log in at
   once through the TLS port (cache_ttl = "0s": every request is a yescrypt
   check) while /status's loop_lag_ms is sampled.
2. A 1 KiB cache hit through the TLS port vs the plain port: one
   keep-alive connection per port, the same request again and again from a
   small Python client (the same client both ways, so the ratio is what the
   TLS layer costs; the absolute figures include Python's own cost).

Usage: tests/bench/tls_bench.py [BUILD_DIR]   (prints the figures)
"""
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from origin import Origin  # noqa: E402

BIN = os.path.join(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../build"),
                   "portcullis")


def start(tmp, origin_port):
    subprocess.run([BIN, "tls", "init", tmp + "/pki", "--name", "bench.test", "--ip-loopback"],
                   check=True, capture_output=True)
    cfg = f"""
[server]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
tls_certificate = "{tmp}/pki/server.crt"
tls_key = "{tmp}/pki/server.key"
workers = 1
[cache]
enabled = true
dir = "{tmp}/cache"
[admin]
listen = "127.0.0.1:0"
[auth]
users_file = "{tmp}/users"
cache_ttl = "0s"
max_failures = 1000
[abuse]
refusals_to_block = 0
[sources]
local = ["127.0.0.1/32"]
[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{origin_port}] }}
[[rule]]
allow = {{ from = "local", to = "origin" }}
"""
    subprocess.run([BIN, "passwd", tmp + "/users", "bench"], input="bench-pass\n", text=True,
                   check=True, capture_output=True)
    with open(tmp + "/p.toml", "w") as f:
        f.write(cfg)
    proc = subprocess.Popen([BIN, "run", "-c", tmp + "/p.toml", "--allow-root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for line in proc.stderr:
        if not line.startswith(b"{"):
            continue  # a config diagnostic, not an event
        ev = json.loads(line)
        if ev.get("event") == "ready":
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            port = lambda k: int(ev[k].split()[0].rsplit(":", 1)[1])  # noqa: E731
            return proc, port("listen"), port("listen_tls"), ev["admin"]
    raise RuntimeError("no ready event")


def cpu_seconds(pid):
    """User + system CPU time of a process so far (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_loop(sock, request, seconds):
    """Sends `request` again and again on one keep-alive connection."""
    n = 0
    end = time.monotonic() + seconds
    buf = b""
    while time.monotonic() < end:
        sock.sendall(request)
        while True:
            head_end = buf.find(b"\r\n\r\n")
            if head_end >= 0:
                m = re.search(rb"Content-Length: (\d+)", buf[:head_end], re.I)
                total = head_end + 4 + int(m.group(1))
                if len(buf) >= total:
                    assert buf.startswith(b"HTTP/1.1 200"), buf[:100]
                    buf = buf[total:]
                    break
            chunk = sock.recv(65536)
            assert chunk
            buf += chunk
        n += 1
    return n / seconds


def max_loop_lag(admin):
    host, port = admin.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/status")
    body = conn.getresponse().read()
    conn.close()
    return max(json.loads(body)["loop_lag_ms"])


def logins(tls, tmp, request, admin, clients=200):
    """200 TLS clients send a request with credentials at once."""
    auth = b"Proxy-Authorization: Basic YmVuY2g6YmVuY2gtcGFzcw==\r\n"
    req = request.replace(b"\r\n\r\n", b"\r\n" + auth + b"\r\n")
    ctx = ssl.create_default_context(cafile=tmp + "/pki/ca.crt")
    barrier = threading.Barrier(clients + 1)
    codes = []

    def one():
        t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls), timeout=60),
                            server_hostname="127.0.0.1")
        barrier.wait()
        t.sendall(req)
        codes.append(t.recv(12))
        t.close()
    threads = [threading.Thread(target=one) for _ in range(clients)]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.monotonic()
    lags = []
    while any(th.is_alive() for th in threads):
        lags.append(max_loop_lag(admin))
        time.sleep(0.2)
    for th in threads:
        th.join()
    took = time.monotonic() - start
    time.sleep(1.1)  # the lag probe reports once a second
    lags.append(max_loop_lag(admin))
    ok = sum(1 for c in codes if c.startswith(b"HTTP/1.1 200"))
    print("200 simultaneous logins (yescrypt, 2 verifier threads): %d answered 200 in %.2f s; "
          "worst loop lag seen %.1f ms" % (ok, took, max(lags)))


def main():
    tmp = tempfile.mkdtemp(prefix="portcullis-tls-bench-")
    origin = Origin()
    proc, plain, tls, admin = start(tmp, origin.port)
    try:
        url = "http://127.0.0.1:%d/size/1024?cc=max-age=3600" % origin.port
        request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (url, origin.port)).encode()
        s = socket.create_connection(("127.0.0.1", plain))
        request_loop(s, request, 0.5)  # fills the cache, warms up
        plain_rps = request_loop(s, request, 5)
        s.close()
        ctx = ssl.create_default_context(cafile=tmp + "/pki/ca.crt")
        t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls)),
                            server_hostname="127.0.0.1")
        request_loop(t, request, 0.5)
        tls_rps = request_loop(t, request, 5)
        t.close()
        cpu0 = cpu_seconds(proc.pid)
        out = subprocess.run(["openssl", "s_time", "-connect", "127.0.0.1:%d" % tls, "-new",
                              "-time", "10", "-CAfile", tmp + "/pki/ca.crt"],
                             capture_output=True, text=True).stdout
        cpu = cpu_seconds(proc.pid) - cpu0
        m = re.search(r"(\d+) connections in ([\d.]+)s; ([\d.]+) connections/user sec", out)
        n = int(m.group(1))
        print("handshakes: %d full TLS handshakes (openssl s_time -new, ECDSA P-256, one worker) "
              "in 10 s of wall time: %.0f/s, client-bound; the proxy used %.2f s of CPU: "
              "%.0f handshakes per proxy CPU-second" % (n, n / 10.0, cpu, n / cpu))
        print("1 KiB hit, one keep-alive connection: plain %.0f req/s, TLS %.0f req/s, "
              "TLS/plain = %.2f" % (plain_rps, tls_rps, tls_rps / plain_rps))
        logins(tls, tmp, request, admin)
    finally:
        proc.terminate()
        proc.wait(10)
        origin.close()


if __name__ == "__main__":
    main()
