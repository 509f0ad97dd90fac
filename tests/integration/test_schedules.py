"""Decisions that stay true over time (issue #16 items 4-6): rules with
`when` / `until` and reloads close open CONNECT tunnels and streaming
responses their rule no longer allows, within a second, logged as
closed_by_policy with the rule that now decides; a tunnel still allowed stays.

The windows are relative to the real clock: a schedule in UTC whose hours end
a few seconds from now (hours take seconds, "HH:MM:SS"). The daemon arms a
timer at the edge; the test waits on the socket with a deadline. Exact DST
behaviour is unit-tested with a fake clock (tests/unit/acl/schedule_test.cpp).
"""
import datetime
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

from harness import BIN, Proxy, Reader, ThreadedAcceptor
from origin import Origin


class EchoOrigin(ThreadedAcceptor):
    """A TCP server that echoes every byte until the peer closes."""

    def handle(self, conn):
        conn.settimeout(30)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
        except OSError:
            return
        finally:
            conn.close()


def config(tmp_path, ports, rules, extra=""):
    plist = ", ".join(str(p) for p in ports)
    return f"""
[server]
listen = ["127.0.0.1:0"]
workers = 2
sni_check = false

[log]
access = "{tmp_path}/access.log"
events = "-"

[admin]
listen = "127.0.0.1:0"

[sources]
local = ["127.0.0.1/32"]

[destinations]
{"".join(f'port{p} = {{ cidrs = ["127.0.0.0/8"], ports = [{p}] }}{chr(10)}' for p in ports)}
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{plist}] }}
{extra}
{rules}
"""


def rule(name, to, when=None, until=None):
    cond = (f'when = "{when}"\n' if when else "") + (f'until = "{until}"\n' if until else "")
    return f'[[rule]]\nname = "{name}"\n{cond}allow = {{ from = "local", to = "{to}" }}\n'


def open_tunnel(proxy_port, target_port):
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=20)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
              % (target_port, target_port))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, "proxy closed before answering CONNECT: %r" % buf
        buf += chunk
    assert buf.startswith(b"HTTP/1.1 200"), buf
    return s


def echoes(s, payload=b"ping"):
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(65536)
        if not chunk:
            return False
        got += chunk
    return got == payload


def wait_closed(s, deadline):
    """Blocks until the peer closes `s` (EOF or reset); returns the wall time, or
    raises after `deadline` seconds."""
    s.settimeout(deadline)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.time()


def records(p, n, pred, deadline=10.0):
    end = time.monotonic() + deadline
    while True:
        got = [r for r in p.access_lines(0) if pred(r)]
        if len(got) >= n or time.monotonic() > end:
            return got
        time.sleep(0.05)  # polling a file with a deadline


def reload_with(p, text):
    with open(p.config_path, "w") as f:
        f.write(text)
    seen = len(p.events)
    p.signal(signal.SIGHUP)
    return p.wait_event("reload", seen=seen)


def hms(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S")


def test_tunnel_closed_at_the_windows_end(tmp_path):
    echo = EchoOrigin()
    try:
        now = time.time()
        end = int(now) + 4  # a whole second, a few seconds away
        sched = (f'[schedules]\nwindow = {{ hours = ["{hms(now - 120)}-{hms(end)}"], '
                 f'timezone = "UTC" }}\n')
        p = Proxy(config(tmp_path, [echo.port], rule("in-window", "origin", when="window"),
                         sched), tmpdir=str(tmp_path))
        s = open_tunnel(p.port, echo.port)
        assert echoes(s), "the tunnel works while the window is open"
        closed_at = wait_closed(s, end - time.time() + 5)
        assert closed_at >= end - 0.05, "closed %.3f s before the window's end" % (end - closed_at)
        assert closed_at - end <= 1.0, "closed %.3f s after the window's end" % (closed_at - end)
        rec = records(p, 1, lambda r: r["method"] == "CONNECT")[0]
        assert rec["termination"] == "closed_by_policy", rec
        assert rec["decision"] == "deny"
        assert rec["rule"] == "default-deny"
        assert rec["bytes_out"] >= 4
        # A new CONNECT is refused now.
        s2 = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s2.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % echo.port)
        assert Reader(s2, 10).read_response().status == 403
        p.finish()
    finally:
        echo.close()


def test_until_closes_a_tunnel_and_status_lists_the_rule(tmp_path):
    echo = EchoOrigin()
    try:
        until = int(time.time()) + 3
        stamp = datetime.datetime.fromtimestamp(until, datetime.timezone.utc)
        text = config(tmp_path, [echo.port],
                      rule("lesson-unblock", "origin", until=stamp.strftime("%Y-%m-%dT%H:%M:%SZ")))
        p = Proxy(text, tmpdir=str(tmp_path))
        st = json.load(urllib.request.urlopen("http://%s/status" % p.admin, timeout=10))
        assert [r["name"] for r in st["expiring_rules"]] == ["lesson-unblock"]
        s = open_tunnel(p.port, echo.port)
        assert echoes(s)
        closed_at = wait_closed(s, until - time.time() + 5)
        assert -0.05 <= closed_at - until <= 1.0
        rec = records(p, 1, lambda r: r["method"] == "CONNECT")[0]
        assert rec["termination"] == "closed_by_policy" and rec["rule"] == "default-deny", rec
        p.finish()
    finally:
        echo.close()


def test_reload_closes_only_tunnels_whose_rule_went(tmp_path):
    a, b = EchoOrigin(), EchoOrigin()
    try:
        both = rule("to-a", f"port{a.port}") + rule("to-b", f"port{b.port}")
        p = Proxy(config(tmp_path, [a.port, b.port], both), tmpdir=str(tmp_path))
        ta = open_tunnel(p.port, a.port)
        tb = open_tunnel(p.port, b.port)
        assert echoes(ta) and echoes(tb)
        # The new rules: to-b is gone, and a deny for port b now decides it.
        new = (rule("to-a", f"port{a.port}") +
               f'[[rule]]\nname = "no-b"\ndeny = {{ to = "port{b.port}" }}\n')
        reload_with(p, config(tmp_path, [a.port, b.port], new))
        reloaded = time.time()
        closed_at = wait_closed(tb, 5)
        assert closed_at - reloaded <= 1.0
        rec = records(p, 1, lambda r: r["method"] == "CONNECT" and r["url"].endswith(str(b.port)))[0]
        assert rec["termination"] == "closed_by_policy", rec
        assert rec["rule"] == "no-b" and "portcullis.toml:" in rec["rule_where"], rec
        # The tunnel the new rules still allow carries on.
        assert echoes(ta, b"still here")
        assert not [r for r in p.access_lines(0) if r["url"].endswith(str(a.port))]
        ta.close()
        p.finish()
    finally:
        a.close()
        b.close()


def test_reload_cuts_a_streaming_response(tmp_path):
    origin = Origin()
    try:
        allow = rule("web", "origin")
        p = Proxy(config(tmp_path, [origin.port], allow), tmpdir=str(tmp_path))
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        # 100 pieces 0.1 s apart: about ten seconds of body.
        url = origin.url("/slowbig/x?size=1000000&pieces=100&gap=0.1")
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(65536)
        assert head.startswith(b"HTTP/1.1 200")
        reload_with(p, config(tmp_path, [origin.port],
                              '[[rule]]\nname = "closed-now"\ndeny = { from = "local" }\n'
                              + rule("web", "origin")))
        reloaded = time.time()
        got = len(head)
        s.settimeout(5)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            pass
        assert time.time() - reloaded <= 1.0
        assert got < 1000000, "the whole body went through"
        rec = records(p, 1, lambda r: r["method"] == "GET")[0]
        assert rec["termination"] == "closed_by_policy" and rec["rule"] == "closed-now", rec
        assert rec["status"] == 200
        p.finish()
    finally:
        origin.close()


def test_explain_at_and_validate_warn_about_expired_rules(tmp_path):
    path = os.path.join(str(tmp_path), "p.toml")
    with open(path, "w") as f:
        f.write(config(tmp_path, [8080],
                       rule("old", "origin", until="2020-01-01T00:00Z") +
                       rule("lessons-web", "origin", when="lessons"),
                       '[schedules]\nlessons = { days = ["mon-fri"], hours = ["08:30-12:00",'
                       ' "13:00-15:30"], timezone = "Europe/Paris" }\n'))
    v = subprocess.run([BIN, "validate", "-c", path], capture_output=True, text=True, timeout=30)
    assert "warning: rule 'old' expired at 2020-01-01" in v.stderr, v.stderr
    assert v.returncode == 0
    for at, verdict, state in [("2026-12-07T10:15 Europe/Paris", "ALLOW by lessons-web", "open"),
                               ("2026-12-07T12:15+01:00", "DENY by default-deny", "closed")]:
        e = subprocess.run([BIN, "explain", "-c", path, "--from", "127.0.0.1", "--to",
                            "http://127.0.0.1:8080/", "--at", at],
                           capture_output=True, text=True, timeout=30)
        assert "schedule lessons (Europe/Paris): " + state in e.stdout, e.stdout
        assert "rule old: expired at 2020-01-01" in e.stdout
        assert verdict in e.stdout, e.stdout
