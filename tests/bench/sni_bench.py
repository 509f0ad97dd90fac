#!/usr/bin/env python3
"""CONNECT with the SNI check on vs off, in one run: tunnel setup rate and
throughput of the same portcullis binary, two instances side by side.

  sni_bench.py PORTCULLIS_BIN [SECONDS] [CONCURRENCY]

Each tunnel is CONNECT localhost:PORT (resolved from /etc/hosts), then a real
ClientHello naming "localhost" (so the check takes its common path: the SNI
names the CONNECT host). The origin is a plain TCP server that reads the
ClientHello and then either answers 5 bytes and closes (setup rate) or
streams from memory (throughput; the client drops the bytes with MSG_TRUNC).
The two instances run alternately, twice each, and the best of each is
printed with the on/off ratio.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import json

CHUNK = 1 << 20
STREAM = b"\0" * (4 << 20)


def client_hello(sni):
    def ext(t, data):
        return struct.pack("!HH", t, len(data)) + data
    name = sni.encode()
    entry = b"\x00" + struct.pack("!H", len(name)) + name
    exts = ext(0, struct.pack("!H", len(entry)) + entry) + ext(16, b"\x00\x0c\x02h2\x08http/1.1")
    exts += ext(43, b"\x04\x03\x04\x03\x03") + ext(51, b"\x00\x24\x00\x1d\x00\x20" + os.urandom(32))
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + b"\x00\x02\x13\x01\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    msg = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(msg)) + msg


HELLO = client_hello("localhost")


class Origin:
    """stream=False: read the hello, send 5 bytes, close. stream=True: send forever."""

    def __init__(self, stream):
        self.stream = stream
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            got = b""
            while len(got) < len(HELLO):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                got += chunk
            if not self.stream:
                conn.sendall(b"\x16\x03\x03\x00\x00")
                return
            while True:
                conn.sendall(STREAM)
        except OSError:
            pass
        finally:
            conn.close()


def config(tmp, name, port, check):
    path = os.path.join(tmp, name + ".toml")
    with open(path, "w") as f:
        f.write(f"""
[server]
listen = ["127.0.0.1:0"]
workers = 1
sni_check = {"true" if check else "false"}
max_connections_per_client = 100000
[log]
access = ""
events = "-"
[admin]
listen = ""
[abuse]
refusals_to_block = 0
[sources]
local = ["127.0.0.1/32"]
[destinations]
origin = {{ hosts = ["*"], cidrs = ["127.0.0.0/8"], ports = [{port}] }}
[[rule]]
allow = {{ from = "local", to = "origin" }}
""")
    return path


def start(binary, path):
    proc = subprocess.Popen([binary, "run", "-c", path, "--allow-root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for line in proc.stderr:
        ev = json.loads(line)
        if ev.get("event") == "ready":
            threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
            return proc, int(ev["listen"].split()[0].rsplit(":", 1)[1])
    raise SystemExit("proxy did not start")


def open_tunnel(proxy_port, origin_port):
    s = socket.create_connection(("127.0.0.1", proxy_port))
    s.sendall(b"CONNECT localhost:%d HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % (origin_port, origin_port))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed before 200")
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 200"):
        raise OSError(buf[:40])
    s.sendall(HELLO)
    return s


def setup_rate(proxy_port, origin_port, seconds, concurrency):
    count = [0] * concurrency
    errors = [0]
    end = time.monotonic() + seconds

    def worker(i):
        while time.monotonic() < end:
            try:
                s = open_tunnel(proxy_port, origin_port)
                if s.recv(5)[:1] != b"\x16":
                    errors[0] += 1
                s.close()
                count[i] += 1
            except OSError:
                errors[0] += 1
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / seconds, errors[0]


def throughput(proxy_port, origin_port, seconds, concurrency):
    total = [0] * concurrency
    end = time.monotonic() + seconds

    def worker(i):
        s = open_tunnel(proxy_port, origin_port)
        buf = bytearray(CHUNK)
        while time.monotonic() < end:
            n = s.recv_into(buf, CHUNK, socket.MSG_TRUNC)  # the kernel drops the bytes
            if n <= 0:
                break
            total[i] += n
        s.close()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(total) / seconds / 2**30


def main():
    binary = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    tmp = tempfile.mkdtemp(prefix="sni-bench-")
    rate_origin, stream_origin = Origin(False), Origin(True)
    results = {}
    for check in (True, False):
        for kind, origin in (("rate", rate_origin), ("stream", stream_origin)):
            path = config(tmp, "%s-%s" % (kind, check), origin.port, check)
            results[(kind, check)] = start(binary, path)
    best = {}
    for _ in range(2):
        for check in (True, False):
            rate, errors = setup_rate(results[("rate", check)][1], rate_origin.port, seconds,
                                      concurrency)
            gib = throughput(results[("stream", check)][1], stream_origin.port, seconds, 2)
            old = best.get(check, (0, 0, 0))
            best[check] = (max(old[0], rate), max(old[1], gib), old[2] + errors)
    for proc, _ in results.values():
        proc.terminate()
        proc.wait()
    on, off = best[True], best[False]
    print("%-10s %14s %16s %8s" % ("sni_check", "tunnels/s", "GiB/s (2 tunnels)", "errors"))
    print("%-10s %14.0f %16.2f %8d" % ("on", on[0], on[1], on[2]))
    print("%-10s %14.0f %16.2f %8d" % ("off", off[0], off[1], off[2]))
    print("RESULT setup_rate_ratio=%.3f throughput_ratio=%.3f" % (on[0] / off[0], on[1] / off[1]))


if __name__ == "__main__":
    main()
