#!/usr/bin/env python3
"""Origin for byte_hit_replay.py: serves /obj/<id>/<size> and counts what it sends.

    byte_hit_origin.py [--port 0]      # prints "port <n>" on stdout once listening

Every body is deterministic: a 32-byte head and a 32-byte tail that name the
object and its size, and a fixed filler in between, so the client can tell a
wrong object (or a truncated one) from the right one without hashing.  The
size is in the path because the trace generator owns the sizes; it is
fixed per id, so every proxy sees one URL per object.

GET /stats (origin-form, straight to this server, not through a proxy)
answers {"requests", "body_bytes", "in_flight"} as JSON.  body_bytes counts
what was actually written; a reader polls until in_flight is 0 so that no
response is half-counted.
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_SIZE = 64 * 1024 * 1024
EDGE = 32
_FILLER = bytes(range(256)) * (MAX_SIZE // 256)


def edge(kind, obj_id, size):
    """The 32-byte head ("H") or tail ("T") of object `obj_id`."""
    text = ("%s %d %d" % (kind, obj_id, size)).encode()
    return text.ljust(EDGE, b".")[:EDGE]


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.body_bytes = 0
        self.in_flight = 0

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "body_bytes": self.body_bytes, "in_flight": self.in_flight}


COUNTERS = Counters()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The body goes out in three writes (head, filler, tail): without this,
    # Nagle holds the small ones for the proxy's delayed ACK, 40 ms each.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # one line per request would dominate the run
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/stats":
            self.reply_json(COUNTERS.snapshot())
            return
        parts = url.path.split("/")
        if len(parts) != 4 or parts[1] != "obj" or not (parts[2].isdigit() and parts[3].isdigit()):
            self.send_error(404)
            return
        obj_id, size = int(parts[2]), int(parts[3])
        if not 2 * EDGE <= size <= MAX_SIZE:
            self.send_error(416)
            return
        with COUNTERS.lock:
            COUNTERS.requests += 1
            COUNTERS.in_flight += 1
        sent = 0
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            # Fresh for a day in every cache: the trace must be decided by
            # eviction alone, never by expiry or revalidation.
            self.send_header("Cache-Control", "max-age=86400")
            self.end_headers()
            for piece in (edge("H", obj_id, size), memoryview(_FILLER)[: size - 2 * EDGE],
                          edge("T", obj_id, size)):
                self.wfile.write(piece)
                sent += len(piece)
        finally:
            with COUNTERS.lock:
                COUNTERS.body_bytes += sent
                COUNTERS.in_flight -= 1

    def reply_json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
