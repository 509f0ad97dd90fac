"""Regression tests for the findings of the adversarial run (issue #12) that
live on the request path: interim-response floods, cache hits and collapsed
waiters that ignored the address a copy came from, limits that outlived their
config snapshot across reloads, request bodies left unread after an early
answer (CL.0 desync), and the rule named for a request whose DNS failed.

Every test stops the daemon with SIGTERM and checks it exited 0 with no
sanitizer report (harness.Proxy.finish), so the ASan build runs the same file.
"""
import signal
import socket
import threading
import time

import pytest

from harness import (Reader, ScriptedNameserver, ThreadedAcceptor, connect, fault_config, get,
                     start_proxy)

MARGIN = 5.0


def read_head(conn, deadline=5.0):
    """The request head an origin receives (bytes up to the blank line)."""
    conn.settimeout(deadline)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def connect_from(source_ip, port, timeout=10):
    """A client socket from a chosen loopback address (127.0.0.10: staff...)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source_ip, 0))
    s.connect(("127.0.0.1", port))
    return s


def request(sock, method, url, headers=b"", body=b"", deadline=10.0):
    sock.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n%s" % (method.encode(), url.encode(), headers, body))
    return Reader(sock, deadline)


# ---------------------------------------------------------------- 1xx floods (finding 2)


class InterimOrigin(ThreadedAcceptor):
    """Answers every request with `count` interim responses of about `pad`
    bytes each, `gap` seconds apart, then (if it got that far) a 200. Stops
    early when the proxy hangs up; `sent` records how many interims went out."""

    def __init__(self, count, pad=1000, gap=0.0, status=100):
        self.count, self.pad, self.gap, self.status = count, pad, gap, status
        self.sent = 0
        self.done = threading.Event()
        super().__init__()

    def handle(self, conn):
        try:
            read_head(conn)
            interim = b"HTTP/1.1 %d Continue\r\nX-Pad: %s\r\n\r\n" % (self.status, b"p" * self.pad)
            for _ in range(self.count):
                conn.sendall(interim)
                self.sent += 1
                if self.gap:
                    time.sleep(self.gap)  # the origin's own pacing, not synchronisation
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok")
        except OSError:
            pass
        finally:
            self.done.set()
            conn.close()


def test_interim_flood_is_capped_and_answered_502(tmp_path, started):
    """An origin streaming 100 Continue to a client that does not read: the
    proxy stops after a few interims (502), it does not buffer them all."""
    origin = InterimOrigin(count=50000)
    try:
        p = start_proxy(started, fault_config([origin.port], tmp_path), tmp_path)
        rss_before = p.rss_kib()
        s = connect(p.port)
        s.sendall(b"GET http://127.0.0.1:%d/flood HTTP/1.1\r\nHost: x\r\n\r\n" % origin.port)
        assert origin.done.wait(30), "the origin was neither cut off nor finished"
        grown_mib = (p.rss_kib() - rss_before) / 1024
        reader = Reader(s, 10)
        statuses = []
        while True:
            r = reader.read_response()
            if r is None:
                break
            statuses.append(r.status)
            if r.status >= 200:
                break
        s.close()
        interims = [x for x in statuses if x < 200]
        assert statuses and statuses[-1] == 502, statuses[-5:]
        assert len(interims) <= 16, len(interims)
        assert origin.sent < 50000, "the proxy read the whole flood"
        assert grown_mib < 16, grown_mib
        p.finish()
    finally:
        origin.close()


def test_interims_do_not_restart_the_first_byte_timeout(tmp_path, started):
    """102 Processing every 0.25 s for 3 s, then 200: with first_byte_timeout
    1 s the client gets 504, since interims do not restart that deadline."""
    origin = InterimOrigin(count=12, pad=10, gap=0.25, status=102)
    try:
        cfg = fault_config([origin.port], tmp_path, server='first_byte_timeout = "1s"')
        p = start_proxy(started, cfg, tmp_path)
        s = connect(p.port)
        reader = request(s, "GET", "http://127.0.0.1:%d/slow" % origin.port, b"Connection: close\r\n")
        r = reader.read_response()
        while r is not None and r.status < 200:  # the interims relayed before the deadline
            r = reader.read_response()
        s.close()
        assert r is not None and r.status == 504, r
        p.finish()
    finally:
        origin.close()


# ---------------------------------------------------------------- cache hits and origin addresses (finding 4)


class AddressOrigin(ThreadedAcceptor):
    """Serves a cacheable body naming the local address it was reached on."""

    def handle(self, conn):
        try:
            head = read_head(conn)
            if not head:
                return
            me = conn.getsockname()[0].encode()
            body = b"secret from " + me if me == b"127.0.0.2" else b"public from " + me
            conn.sendall(b"HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            conn.close()


def two_address_origin():
    """The same port on 127.0.0.2 (the intranet) and 127.0.0.3 (public)."""
    intranet = AddressOrigin(host="127.0.0.2")
    public = AddressOrigin(host="127.0.0.3", port=intranet.port)
    return intranet, public


def staff_and_pupils_config(tmp_path, port, ns_port, cache=True, collapsed=True):
    text = fault_config([port], tmp_path, cache=cache, extra="""
[dns]
nameservers = ["127.0.0.1:%d"]
hosts_file = false
min_ttl = "0s"
negative_ttl = "0s"
""" % ns_port)
    # Staff (127.0.0.10) reach the intranet and the public address; pupils
    # (127.0.0.11) only the public one.
    text = text.replace('local = ["127.0.0.1/32"]',
                        'local = ["127.0.0.1/32"]\nstaff = ["127.0.0.10/32"]\npupils = ["127.0.0.11/32"]')
    text = text.replace("[destinations]\n", """[destinations]
intranet = { cidrs = ["127.0.0.2/32"], ports = [%d] }
public = { cidrs = ["127.0.0.3/32"], ports = [%d] }
""" % (port, port), 1)
    text += """
[[rule]]
name = "staff-all"
allow = { from = "staff", to = ["intranet", "public"] }

[[rule]]
name = "pupils-web"
allow = { from = "pupils", to = "public" }
"""
    if not collapsed:
        text = text.replace('min_free_disk = "0 B"', 'min_free_disk = "0 B"\ncollapsed_forwarding = false')
    return text


def fetch_from(source_ip, port, url):
    s = connect_from(source_ip, port)
    try:
        return request(s, "GET", url, b"Connection: close\r\n").read_response()
    finally:
        s.close()


def test_hit_checks_the_address_the_copy_came_from(tmp_path, started):
    """Staff fetch a name while it points at the intranet; the name moves to
    a public address; a pupil must not get the intranet copy from the cache."""
    intranet, public = two_address_origin()
    ns = ScriptedNameserver(address="127.0.0.2")
    try:
        p = start_proxy(started, staff_and_pupils_config(tmp_path, intranet.port, ns.port), tmp_path)
        url = "http://leak.portcullis-test.example:%d/secret" % intranet.port
        staff = fetch_from("127.0.0.10", p.port, url)
        assert staff.status == 200 and staff.body == b"secret from 127.0.0.2", staff
        ns.address = "127.0.0.3"
        pupil = fetch_from("127.0.0.11", p.port, url)
        assert pupil.status == 200, pupil
        assert pupil.body == b"public from 127.0.0.3", pupil.body
        log = p.access_lines(2)
        assert [line["cache"] for line in log] == ["MISS", "MISS"], log
        # Staff may still read what they fetched... from the public copy now stored.
        again = fetch_from("127.0.0.10", p.port, url)
        assert again.body == b"public from 127.0.0.3"
        p.finish()
    finally:
        ns.close()
        intranet.close()
        public.close()


class SlowAddressOrigin(ThreadedAcceptor):
    """A cacheable body sent in two halves; the second only when `release`
    is set, so a second client can join the fetch while it is in flight."""

    def __init__(self, host="127.0.0.1", port=0):
        self.release = threading.Event()
        self.headers_sent = threading.Event()
        super().__init__(host=host, port=port)

    def handle(self, conn):
        try:
            if not read_head(conn):
                return
            body = b"secret from " + conn.getsockname()[0].encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(body), body[:5]))
            self.headers_sent.set()
            self.release.wait(20)
            conn.sendall(body[5:])
        except OSError:
            pass
        finally:
            conn.close()


def test_collapsed_waiter_checks_the_leaders_origin_address(tmp_path, started):
    """A pupil whose request joins a staff fetch from the intranet address
    must not stream that body: it fetches for itself (and is allowed only the
    public address)."""
    intranet = SlowAddressOrigin(host="127.0.0.2")
    public = AddressOrigin(host="127.0.0.3", port=intranet.port)
    ns = ScriptedNameserver(address="127.0.0.2")
    try:
        p = start_proxy(started, staff_and_pupils_config(tmp_path, intranet.port, ns.port), tmp_path)
        url = "http://leak.portcullis-test.example:%d/collapsed" % intranet.port
        staff_sock = connect_from("127.0.0.10", p.port)
        staff_reader = request(staff_sock, "GET", url, b"Connection: close\r\n")
        assert intranet.headers_sent.wait(10)
        ns.address = "127.0.0.3"  # the pupil's lookup now gives the public address
        result = {}

        def pupil():
            result["r"] = fetch_from("127.0.0.11", p.port, url)

        t = threading.Thread(target=pupil)
        t.start()
        # Let the leader finish once the pupil's request has been decided one
        # way or the other (joined and refused, or fetched on its own).
        t.join(3)
        intranet.release.set()
        t.join(15)
        staff_resp = staff_reader.read_response()
        staff_sock.close()
        assert staff_resp.body == b"secret from 127.0.0.2", staff_resp
        r = result.get("r")
        assert r is not None and r.status == 200, r
        assert r.body == b"public from 127.0.0.3", r.body  # fetched for itself, not the leader's
        p.finish()
    finally:
        ns.close()
        intranet.close()
        public.close()


# ---------------------------------------------------------------- reloads and [[limit]] (finding 5)


LIMIT = """
[[limit]]
name = "%s"
from = "local"
requests_per_second = %s
burst = %s
"""


def test_reloaded_limits_apply_to_the_next_request_on_a_kept_alive_connection(origin, tmp_path, started):
    """SIGHUP, a request on a kept-alive connection, SIGHUP again with other
    limits: the next requests on the same connection obey the new limit (on
    4644220 the session kept a pointer into the first snapshot: a
    use-after-free under ASan)."""
    base = fault_config([origin.port], tmp_path)
    p = start_proxy(started, base + LIMIT % ("before", 1000, 1000), tmp_path)

    def reload(text, seen):
        with open(p.config_path, "w") as f:
            f.write(text)
        p.signal(signal.SIGHUP)
        return p.wait_event("reload", seen=seen)

    reload(base + LIMIT % ("before", 1000, 1000), len(p.events))
    s = connect(p.port)
    try:
        r = request(s, "GET", origin.url("/one")).read_response()
        assert r.status == 200, r
        reload(base + LIMIT % ("after", 0.01, 1), len(p.events))
        statuses = []
        for i in range(3):
            r = request(s, "GET", origin.url("/again/%d" % i)).read_response()
            assert r is not None, statuses
            statuses.append((r.status, r.headers.get("proxy-status", ""), r.body))
        assert statuses[0][0] == 200, statuses
        assert statuses[1][0] == 429, statuses
        assert b"after" in statuses[1][2], statuses[1]
    finally:
        s.close()
    p.finish()


# ---------------------------------------------------------------- early answers and request bodies (finding 7)


def smuggled(origin):
    return b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % origin.url("/SMUGGLED").encode()


def assert_not_smuggled(origin, sock, reader, next_status=200):
    """After the early answer, one more request on the same connection gets
    exactly one answer (a body parsed as a request would add another), and
    the origin never saw /SMUGGLED. A proxy that closed instead is safe too."""
    try:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % origin.url("/after").encode())
    except OSError:
        pass  # closed instead of draining
    responses = []
    while True:
        r = reader.read_response()
        if r is None:
            break
        responses.append(r)
    assert len(responses) <= 1, [x.status for x in responses]
    if responses:
        assert responses[0].status == next_status, responses[0]
    assert origin.count("/SMUGGLED") == 0


def test_max_forwards_answer_reads_its_body(origin, tmp_path, started):
    p = start_proxy(started, fault_config([origin.port], tmp_path), tmp_path)
    body = smuggled(origin)
    s = connect(p.port)
    try:
        reader = request(s, "OPTIONS", origin.url("/"),
                         b"Max-Forwards: 0\r\nContent-Length: %d\r\n" % len(body), body)
        r = reader.read_response()
        assert r.status == 200 and "allow" in r.headers, r
        assert_not_smuggled(origin, s, reader)
    finally:
        s.close()
    p.finish()


def test_max_forwards_is_answered_only_after_admission(origin, tmp_path, started):
    """A client outside every source set gets 403, not our Allow list."""
    p = start_proxy(started, fault_config([origin.port], tmp_path), tmp_path)
    s = connect_from("127.0.0.11", p.port)
    try:
        r = request(s, "OPTIONS", origin.url("/"), b"Max-Forwards: 0\r\n").read_response()
        assert r.status == 403 and "allow" not in r.headers, r
    finally:
        s.close()
    p.finish()


def test_429_reads_or_refuses_the_body(origin, tmp_path, started):
    p = start_proxy(started, fault_config([origin.port], tmp_path) + LIMIT % ("strict", 0.01, 1), tmp_path)
    body = smuggled(origin)
    s = connect(p.port)
    try:
        assert request(s, "GET", origin.url("/first")).read_response().status == 200
        reader = request(s, "POST", origin.url("/post"), b"Content-Length: %d\r\n" % len(body), body)
        assert reader.read_response().status == 429
        assert_not_smuggled(origin, s, reader, next_status=429)
    finally:
        s.close()
    # A chunked body cannot be skipped safely: the connection closes.
    s = connect(p.port)
    try:
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        reader = request(s, "POST", origin.url("/post"), b"Transfer-Encoding: chunked\r\n", chunked)
        assert reader.read_response().status == 429
        assert reader.wait_closed()
        assert origin.count("/SMUGGLED") == 0
    finally:
        s.close()
    p.finish()


@pytest.mark.parametrize("case", ["hit", "only-if-cached", "precondition-failed"])
def test_answers_from_cache_read_the_body(case, origin, tmp_path, started):
    p = start_proxy(started, fault_config([origin.port], tmp_path, cache=True), tmp_path)
    url = origin.url("/c/early?cc=max-age=300&etag=v1")
    assert get(p.port, url).status == 200  # stored
    extra = {"hit": b"",
             "only-if-cached": b"Cache-Control: only-if-cached\r\n",
             "precondition-failed": b"If-Match: \"other\"\r\n"}[case]
    target = url if case != "only-if-cached" else origin.url("/c/never-stored")
    expected = {"hit": 200, "only-if-cached": 504, "precondition-failed": 412}[case]
    body = smuggled(origin)
    s = connect(p.port)
    try:
        reader = request(s, "GET", target, extra + b"Content-Length: %d\r\n" % len(body), body)
        r = reader.read_response()
        assert r.status == expected, r
        assert_not_smuggled(origin, s, reader)
    finally:
        s.close()
    p.finish()


# ---------------------------------------------------------------- the rule of a request whose DNS failed (#13 item 11)


def test_dns_failure_is_logged_with_the_allowing_rule(origin, tmp_path, started):
    ns = ScriptedNameserver()
    ns.failing = True
    try:
        cfg = fault_config([origin.port], tmp_path, extra="""
[[rule]]
name = "local-to-web"
allow = { from = "local", to = "web" }

[dns]
nameservers = ["127.0.0.1:%d"]
hosts_file = false
timeout = "1s"
""" % ns.port)
        cfg = cfg.replace("[destinations]\n", '[destinations]\nweb = { hosts = ["*"], ports = [80] }\n', 1)
        p = start_proxy(started, cfg, tmp_path)
        r = get(p.port, "http://gone.portcullis-test.example/", deadline=10)
        assert r is not None and r.status in (502, 504), r
        line = p.access_lines(1)[0]
        assert line["rule"] == "local-to-web", line
        assert line["termination"] in ("dns_error", "dns_timeout"), line
        p.finish()
    finally:
        ns.close()
