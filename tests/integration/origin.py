"""A real HTTP/1.1 origin server for the integration tests.

Runs in a thread of the test process on 127.0.0.1:0. It counts requests per
path so tests can assert how many reached the origin, and offers endpoints
for the behaviours under test (sizes, chunked, slow bodies, echo, etc.).
"""
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from harness import ThreadedAcceptor


def body_of_size(n, seed=b"portcullis"):
    """Deterministic bytes so clients can check every byte."""
    block = hashlib.sha256(seed).digest() * 64  # 2 KiB
    out = (block * (n // len(block) + 1))[:n]
    return out


class OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output clean
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle and
        # delayed ACKs add 40 ms to every keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self):
        super().finish()
        with self.server.lock:  # the connection is over (the client closed it)
            self.server.closed = getattr(self.server, "closed", 0) + 1

    def _count(self):
        with self.server.lock:
            path = urlsplit(self.path).path
            self.server.counts[path] = self.server.counts.get(path, 0) + 1
            self.server.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers.items())}
            )

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, headers=None):
        self.send_response(status)
        headers = headers or {}
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_any(self):
        self._count()
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        path = url.path
        req_body = self._read_body()
        if path == "/echo":
            info = {
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body_len": len(req_body),
                "body_sha256": hashlib.sha256(req_body).hexdigest(),
            }
            self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
        elif path.startswith("/size/"):
            n = int(path.split("/")[2])
            cc = q.get("cc", ["no-store"])[0]
            self._send(200, body_of_size(n), {"Cache-Control": cc})
        elif path == "/chunked":
            n = int(q.get("n", ["10000"])[0])
            body = body_of_size(n)
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 1000):
                part = body[i:i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/close-delimited":
            n = int(q.get("n", ["5000"])[0])
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body_of_size(n))
            self.close_connection = True
        elif path.startswith("/c/"):
            # Cacheable object: ?size=N&cc=...&etag=...&vary=... (304 options below)
            n = int(q.get("size", ["1000"])[0])
            headers = {"Cache-Control": q.get("cc", ["max-age=3600"])[0]}
            etag = q.get("etag", [None])[0]
            if etag:
                headers["ETag"] = '"%s"' % etag
                if q.get("bogus304") and self.headers.get("If-None-Match"):
                    # A 304 naming another representation than the one asked about.
                    self.send_response(304)
                    self.send_header("ETag", '"other"')
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == '"%s"' % etag:
                    self.send_response(304)
                    # nmcc: the 304's own Cache-Control; nmcookie=1: the 304
                    # sets the request's Cookie back (a per-user 304).
                    headers["Cache-Control"] = q.get("nmcc", [headers["Cache-Control"]])[0]
                    if q.get("nmcookie") and self.headers.get("Cookie"):
                        headers["Set-Cookie"] = self.headers["Cookie"]
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    return
            vary = q.get("vary", [None])[0]
            body = body_of_size(n, seed=path.encode())
            if vary:
                headers["Vary"] = vary
                body = (self.headers.get(vary, "-") + "\n").encode() + body
            self._send(200, body, headers)
        elif path.startswith("/slowbig/"):
            # A large cacheable body sent in pieces over about a second: the
            # time the last byte left is recorded for the burst test.
            n = int(q.get("size", [str(10 * 1024 * 1024)])[0])
            pieces = int(q.get("pieces", ["100"])[0])
            body = body_of_size(n, seed=b"slowbig")
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.send_header("Cache-Control", "max-age=3600")
            self.end_headers()
            step = (n + pieces - 1) // pieces
            for i in range(0, n, step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(float(q.get("gap", ["0.01"])[0]))
            with self.server.lock:
                self.server.finished[path] = time.monotonic()
        elif path.startswith("/slowchunked/"):
            # A cacheable chunked body sent in paced pieces (collapsed waiters
            # then stream it re-chunked from the growing cache file).
            n = int(q.get("size", ["2000000"])[0])
            body = body_of_size(n, seed=b"slowchunked")
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "max-age=3600")
            self.end_headers()
            step = 50000
            for i in range(0, n, step):
                part = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                time.sleep(0.01)
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/status":
            code = int(q.get("code", ["200"])[0])
            self._send(code, b"" if code in (204, 304) else b"status body")
        else:
            self._send(200, b"hello from origin\n", {"Content-Type": "text/plain"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_any


class Origin:
    def __init__(self, host="127.0.0.1", port=0):
        self.host = host
        self.httpd = ThreadingHTTPServer((host, port), OriginHandler)
        self.httpd.daemon_threads = True
        self.httpd.counts = {}
        self.httpd.requests = []
        self.httpd.finished = {}
        self.httpd.lock = threading.Lock()
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def closed_connections(self):
        with self.httpd.lock:
            return getattr(self.httpd, "closed", 0)

    def count(self, path):
        with self.httpd.lock:
            return self.httpd.counts.get(path, 0)

    @property
    def requests(self):
        with self.httpd.lock:
            return list(self.httpd.requests)

    def finished_at(self, path):
        with self.httpd.lock:
            return self.httpd.finished.get(path)

    def url(self, path="/"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class CountingListener(ThreadedAcceptor):
    """A TCP listener that counts the connections made to it. Without a
    greeting it closes each at once; with one it talks like an SMTP server:
    greets, reads whatever comes, greets again, closes."""

    def __init__(self, port=0, host="127.0.0.1", greeting=None):
        self.greeting = greeting
        super().__init__(host, port)

    @property
    def connections(self):
        return self.accepted

    def handle(self, conn):
        try:
            if self.greeting:
                conn.settimeout(5)
                conn.sendall(self.greeting)
                conn.recv(4096)
                conn.sendall(self.greeting)
        except OSError:
            pass
        finally:
            conn.close()
