#!/usr/bin/env python3
"""Sequential small GETs through a TLS parent ([[parent]] tls = true):
requests per second, and how many TCP connections the parent accepted.

    client --one keep-alive connection--> child Portcullis (no cache)
           --[[parent]] tls = true--> parent Portcullis (listen_tls, cache on:
           the 100-byte object is a hit after the first request) --> origin

The client sends N GETs one after the other (50 warm-up requests first);
the parent's /metrics (portcullis_connections_total) says how many
connections (TLS handshakes) the N requests took.

Usage: tests/bench/tls_parent_bench.py [N] [BUILD_DIR]   (N = 2000)
Not a test (no ctest registration).
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "../../build")
os.environ.setdefault("PORTCULLIS_BIN", os.path.join(BUILD, "portcullis"))
os.environ.setdefault("PORTCULLIS_SOURCE_DIR", os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Reader, connect  # noqa: E402
from origin import Origin  # noqa: E402
from test_observability import metrics, total  # noqa: E402
from test_parent import child_proxy, parent_entry, tls_parent  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tmp = tempfile.mkdtemp(prefix="tls-parent-bench-")
    origin = Origin()
    started = []
    try:
        pki = tmp + "/pki"
        parent, port = tls_parent(started, tmp + "/parent", origin.port, pki,
                             extra='\n[cache]\nenabled = true\ndir = "%s/cache"\n' % tmp)
        child = child_proxy(started, tmp + "/child", [origin.port],
                            [parent_entry("p1", port, 'tls = true\ntls_ca = "%s/ca.crt"\n'
                                          'tls_name = "proxy.test"' % pki)],
                            extra='\n[parents]\ncheck_interval = "0s"\n')
        request = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % origin.url(
            "/size/100?cc=max-age=3600").encode()
        s = connect(child.port)
        reader = Reader(s, 30)

        def one():
            s.sendall(request)
            r = reader.read_response()
            if r.status != 200 or len(r.body) != 100:
                raise SystemExit("bad response: %r" % r)

        for _ in range(50):
            one()
        before = total(metrics(parent), "portcullis_connections_total")
        t0 = time.monotonic()
        for _ in range(n):
            one()
        elapsed = time.monotonic() - t0
        handshakes = total(metrics(parent), "portcullis_connections_total") - before
        s.close()
        print("%d sequential GETs through a TLS parent in %.2f s: %.0f requests/s, "
              "%d new connections to the parent" % (n, elapsed, n / elapsed, handshakes))
    finally:
        for p in started:
            if p.proc and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(10)
        origin.close()


if __name__ == "__main__":
    main()
