"""The "internet" of the transparent-mode tests: run inside the origin
network namespace (ip netns exec), it serves HTTP on :80 and :8080, TLS on :443 (the
certificate given on the command line) and a bare TCP listener on :25 that
only records connections. Every request or connection is printed as one
JSON line on stdout; the first line is {"ready": true}."""

import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading

lock = threading.Lock()


def report(**event):
    with lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    scheme = "http"

    def do_GET(self):
        report(scheme=self.scheme, path=self.path, host=self.headers.get("Host"),
               peer=self.client_address[0])
        body = f"{self.scheme} origin says hi {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class TlsHandler(Handler):
    scheme = "https"


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def smtp():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 25))
    s.listen(8)
    while True:
        conn, peer = s.accept()
        report(smtp=True, peer=peer[0])
        conn.close()


def main():
    cert, key = sys.argv[1], sys.argv[2]
    plain = Server(("0.0.0.0", 80), Handler)
    alt = Server(("0.0.0.0", 8080), Handler)  # reached through the tproxy rule
    tls = Server(("0.0.0.0", 443), TlsHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for target in (plain.serve_forever, alt.serve_forever, tls.serve_forever, smtp):
        threading.Thread(target=target, daemon=True).start()
    report(ready=True)
    sys.stdin.read()  # until the test closes our stdin


if __name__ == "__main__":
    main()
