"""Starts the real portcullis binary for a test and talks to it.

Every wait here is on an event (a line on stderr, a socket answer) with a
deadline; nothing sleeps and hopes.
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")
BIN = os.environ.get("PORTCULLIS_BIN", os.path.join(os.path.dirname(__file__), "../../build/portcullis"))
SOURCE_DIR = os.environ.get("PORTCULLIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


class ThreadedAcceptor:
    """A test server (127.0.0.1 and an ephemeral port unless told): a thread
    accepts, counts the connection in `accepted`, and runs self.handle(conn)
    in a thread of its own. Subclasses set what handle() uses before calling
    this __init__ (it starts accepting at once)."""

    def __init__(self, host="127.0.0.1", port=0, backlog=16):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)  # so the loop sees `stop` promptly
        self.port = self.sock.getsockname()[1]
        self.accepted = 0  # counted before handle() runs, so a check right after a request sees it
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        raise NotImplementedError

    def close(self, deadline=5.0):
        self.stop.set()
        self.thread.join(deadline)
        self.sock.close()


def base_config(origin_ports, extra="", log_dir=None, workers=1, allow_loopback=True):
    """A config that lets 127.0.0.1 reach the given loopback origin ports."""
    ports = ", ".join(str(p) for p in origin_ports)
    access = os.path.join(log_dir, "access.log") if log_dir else ""
    dest = 'cidrs = ["127.0.0.0/8"]' if allow_loopback else 'hosts = ["*"]'
    return f"""
[server]
listen = ["127.0.0.1:0"]
workers = {workers}

[log]
access = "{access}"
events = "-"

[admin]
listen = "127.0.0.1:0"

[sources]
local = ["127.0.0.1/32"]

[destinations]
origin = {{ {dest}, ports = [{ports}] }}

[[rule]]
name = "local-to-origin"
allow = {{ from = "local", to = "origin" }}
{extra}
"""


class Proxy:
    """The daemon under test, on an ephemeral port."""

    def __init__(self, config_text, tmpdir=None, args=None, start=True):
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="portcullis-test-")
        self.config_path = os.path.join(self.tmp, "portcullis.toml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.args = args or []
        self.proc = None
        self.port = None
        self.events = []
        self.lines = []
        if start:
            self.start()

    def start(self, deadline=15.0):
        self._cv = threading.Condition()
        self._eof = False
        self.lines = []
        # stdout is not read by any test: a daemon logging to "-" must never
        # block on a full pipe, so it goes nowhere.
        self.proc = subprocess.Popen(
            [BIN, "run", "-c", self.config_path, "--allow-root"] + self.args,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        ready = self.wait_event("ready", deadline)
        listen = ready["listen"].split()[0]
        self.port = int(listen.rsplit(":", 1)[1])
        self.admin = ready.get("admin") or None
        return self

    def _drain(self):
        """A thread reads stderr as it comes (a chatty daemon never blocks on
        a full pipe); every line is kept, JSON ones also as events."""
        buf = b""
        fd = self.proc.stderr.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                try:
                    ev = json.loads(line)
                except ValueError:
                    ev = {"event": "text", "text": text}
                with self._cv:
                    self.lines.append(text)
                    self.events.append(ev)
                    self._cv.notify_all()
        with self._cv:
            if buf:
                self.lines.append(buf.decode(errors="replace"))
            self._eof = True
            self._cv.notify_all()

    def _read_lines(self, timeout):
        """Waits up to `timeout` for another stderr line; raises once the daemon exited."""
        with self._cv:
            n = len(self.events)
            if self._eof:
                raise RuntimeError("portcullis exited (rc=%s)" % self.proc.poll())
            return self._cv.wait_for(lambda: len(self.events) > n or self._eof, timeout)

    def wait_event(self, name, deadline=10.0, seen=0):
        """Returns the first event called `name` after the first `seen` events."""
        end = time.monotonic() + deadline
        while True:
            for ev in self.events[seen:]:
                if ev.get("event") == name:
                    return ev
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r event; got %r" % (name, self.events[-5:]))
            self._read_lines(min(left, 0.5))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, deadline=15.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(deadline)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def finish(self):
        """SIGTERM; the daemon must exit 0 and have printed no sanitizer report."""
        assert self.proc.poll() is None, "daemon died: %s" % self.lines[-20:]
        rc = self.stop()
        self._drainer.join(10)
        reports = [line for line in self.lines if SANITIZER_REPORT.search(line)]
        assert not reports, "\n".join(self.lines[-60:])
        assert rc == 0, "exit %s; stderr tail:\n%s" % (rc, "\n".join(self.lines[-30:]))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def access_lines(self, n, deadline=10.0):
        """Waits until the access log has at least n lines; returns them parsed."""
        path = os.path.join(self.tmp, "access.log")
        end = time.monotonic() + deadline
        while True:
            lines = []
            if os.path.exists(path):
                with open(path) as f:
                    # A last line without its newline is still being written
                    # (the log's buffer is flushed in pieces): read it next time.
                    lines = [json.loads(x) for x in f if x.endswith("\n") and x.strip()]
            if len(lines) >= n:
                return lines
            if time.monotonic() > end:
                raise TimeoutError("access log has %d lines, wanted %d" % (len(lines), n))
            time.sleep(0.05)  # polling a file with a deadline


def raw_exchange(port, data, deadline=10.0, read_until_close=True):
    """Sends bytes to the proxy and returns everything it answered."""
    s = socket.create_connection(("127.0.0.1", port), timeout=deadline)
    try:
        s.sendall(data)
        out = b""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_until_close and b"\r\n\r\n" in out:
                break
        return out
    finally:
        s.close()


def status_of(response_bytes):
    line = response_bytes.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def curl(args, deadline=30):
    """Runs curl; returns (http_code, body bytes, stderr)."""
    proc = subprocess.run(
        ["curl", "-sS", "--max-time", str(deadline)] + args,
        capture_output=True, timeout=deadline + 5,
    )
    return proc


# ---------------------------------------------------------------- daemons for fault tests


def fault_config(ports, tmp_path, server="", cache=False, extra=""):
    """base_config plus [server] keys, no abuse blocking (every client here is
    127.0.0.1, refused on purpose) and optionally the cache."""
    text = base_config(ports, log_dir=str(tmp_path), extra="""
[abuse]
refusals_to_block = 0
""" + extra)
    if "max_connections_per_client" not in server:
        server += "\nmax_connections_per_client = 1000"
    text = text.replace("workers = 1\n", "workers = 1\n%s\n" % server, 1)
    if cache:
        text += f"""
[cache]
enabled = true
dir = "{cache if isinstance(cache, str) else str(tmp_path) + '/cache'}"
max_size = "64 MiB"
max_object_size = "32 MiB"
min_free_disk = "0 B"
"""
    return text


def start_proxy(started, config_text, tmp_path):
    p = Proxy(config_text, tmpdir=str(tmp_path))
    started.append(p)
    return p


# ---------------------------------------------------------------- raw clients


class Response:
    def __init__(self, status, head, headers, body, complete):
        self.status, self.head, self.headers, self.body, self.complete = status, head, headers, body, complete

    def __repr__(self):
        return "Response(%s, complete=%s, body=%d bytes, head=%r)" % (
            self.status, self.complete, len(self.body), self.head[:300])


class Reader:
    """Reads HTTP/1.1 responses off one socket, within one overall deadline.
    A close before the end of a body gives complete=False; a close before any
    head gives None; running past the deadline raises (a hang is a failure)."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.end = time.monotonic() + deadline
        self.buf = b""
        self.eof = False

    def _fill(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time; have %r" % self.buf[:200])
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("no answer in time; have %r" % self.buf[:200])
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take(self, n):
        while len(self.buf) < n:
            if not self._fill():
                out, self.buf = self.buf, b""
                return out, False
        out, self.buf = self.buf[:n], self.buf[n:]
        return out, True

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        parts = head.split(b"\r\n")[0].split(b" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode(errors="replace")
        if head_request or status in (204, 304) or (status is not None and status < 200):
            return Response(status, head, headers, b"", True)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                line = self._line()
                if line is None:
                    return Response(status, head, headers, body, False)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, then the empty line
                        t = self._line()
                        if t is None:
                            return Response(status, head, headers, body, False)
                        if t == b"":
                            return Response(status, head, headers, body, True)
                data, ok = self._take(size + 2)
                body += data[:size]
                if not ok:
                    return Response(status, head, headers, body, False)
        if "content-length" in headers:
            body, ok = self._take(int(headers["content-length"]))
            return Response(status, head, headers, body, ok)
        while self._fill():  # close-delimited
            pass
        body, self.buf = self.buf, b""
        return Response(status, head, headers, body, True)

    def wait_closed(self):
        """True when the peer closes (after any bytes) before the deadline."""
        while self._fill():
            pass
        return self.eof


def free_port():
    """A loopback port nothing listens on now (bound, then closed): for a server a
    test starts next (haproxy, slapd, an admin listener) or one that must refuse."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def get(port, url, deadline=10.0, headers=b"", close=True):
    """One GET through the proxy on a fresh connection."""
    s = connect(port, deadline)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n%s%s\r\n" % (
            url.encode(), headers, b"Connection: close\r\n" if close else b""))
        return Reader(s, deadline).read_response()
    finally:
        s.close()


# ---------------------------------------------------------------- a scripted DNS server


class ScriptedNameserver:
    """A UDP DNS server on 127.0.0.1 that answers every A query with
    `address` (127.0.0.1 unless told; TTL 0, no AAAA) until `failing` is
    set, then SERVFAIL: the thin link going down between two requests."""

    def __init__(self, address="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = address  # may be changed between requests: the name moved
        self.failing = False
        self.silent = False  # queries are counted but never answered
        self.queries = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _answer(self, query):
        qid, end = query[:2], 12
        while query[end] != 0:  # the question name's labels
            end += 1 + query[end]
        qtype = struct.unpack("!H", query[end + 1:end + 3])[0]
        question = query[12:end + 5]
        if self.failing:
            return qid + b"\x81\x82" + struct.pack("!HHHH", 1, 0, 0, 0) + question
        answers = b""
        if qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + socket.inet_aton(self.address)
        return qid + b"\x81\x80" + struct.pack("!HHHH", 1, 1 if answers else 0, 0, 0) + question + answers

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                query, peer = self.sock.recvfrom(4096)
                self.queries += 1
                if not self.silent:
                    self.sock.sendto(self._answer(query), peer)
            except (socket.timeout, OSError, IndexError, struct.error):
                continue

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()
