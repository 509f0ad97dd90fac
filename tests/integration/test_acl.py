"""Access control end to end: the real binary refuses what its rules do not
allow, says which rule decided (access log, error page, Proxy-Status), keeps
its old rules when a reload fails, and refuses to start without a usable rule.
"""
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import http.client

import pytest

from harness import BIN, SOURCE_DIR, Proxy, free_port, raw_exchange, status_of
from origin import CountingListener, Origin

ACCESS_HEAD = """
[server]
listen = ["{listen}"]
workers = {workers}

[log]
access = "{access}"
events = "-"

[admin]
listen = ""
"""


def acl_config(tmpdir, body, workers=1, listen="127.0.0.1:0"):
    """Server/log sections for a test daemon, followed by the given ACL sections."""
    head = ACCESS_HEAD.format(listen=listen, workers=workers,
                              access=os.path.join(tmpdir, "access.log"))
    return head + body


def where_of(text, path, rule_name):
    """The `file:line` a rule is reported at: the line of its [[rule]] header."""
    lines = text.split("\n")
    start = next(i for i, l in enumerate(lines) if l.strip() == 'name = "%s"' % rule_name)
    for i in range(start, -1, -1):
        if lines[i].strip() == "[[rule]]":
            return "%s:%d" % (path, i + 1)
    raise AssertionError("rule %s has no [[rule]] header" % rule_name)


def get(port, url, method="GET", deadline=10.0):
    """One request with Connection: close; returns the whole answer."""
    if method == "CONNECT":
        req = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, url)
        return raw_exchange(port, req.encode(), deadline=deadline, read_until_close=False)
    req = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, url)
    return raw_exchange(port, req.encode(), deadline=deadline)


def last_log_line(proxy, url):
    """The newest access-log line for `url`, waiting for it with a deadline."""
    end = time.monotonic() + 10
    while True:
        lines = proxy.access_lines(1, deadline=max(0.1, end - time.monotonic()))
        match = [l for l in lines if l["url"] == url]
        if match:
            return match[-1]
        if time.monotonic() > end:
            raise TimeoutError("no access-log line for %s in %r" % (url, lines[-3:]))
        time.sleep(0.05)  # polling a file with a deadline


def assert_denied(proxy, answer, url, rule, where=None):
    """403, and the access log names the deciding rule (and file:line for config rules)."""
    assert status_of(answer) == 403, answer[:300]
    line = last_log_line(proxy, url)
    assert line["status"] == 403
    assert line["decision"] == "deny"
    assert line["rule"] == rule
    assert line["rule_where"] == where
    assert line["upstream"] is None
    return line


def listener_on_port_25(deadline=10.0):
    """A CountingListener on port 25; another test file may hold it briefly, so retry."""
    end = time.monotonic() + deadline
    while True:
        try:
            return CountingListener(25)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or time.monotonic() > end:
                raise
            time.sleep(0.1)  # waiting for another test's listener to close, with a deadline



def start(tmp_path, body, workers=1):
    return Proxy(acl_config(str(tmp_path), body, workers=workers), tmpdir=str(tmp_path))


# --- refusals, each naming its rule ------------------------------------------------


def test_client_outside_source_set_is_refused(tmp_path, origin):
    body = """
[sources]
lan = ["10.0.0.0/8"]

[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{p}] }}

[[rule]]
name = "lan-to-origin"
allow = {{ from = "lan", to = "origin" }}
""".format(p=origin.port)
    p = start(tmp_path, body)
    try:
        url = origin.url("/outsider")
        assert_denied(p, get(p.port, url), url, "default-deny", None)
        assert origin.count("/outsider") == 0
    finally:
        p.stop()


def test_deny_rule_naming_the_client_is_reported_with_file_and_line(tmp_path, origin):
    body = """
[sources]
local = ["127.0.0.1/32"]
banned = ["127.0.0.0/24"]

[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{p}] }}

[[rule]]
name = "ban-loopback-clients"
deny = {{ from = "banned" }}

[[rule]]
name = "local-to-origin"
allow = {{ from = "local", to = "origin" }}
""".format(p=origin.port)
    p = start(tmp_path, body)
    try:
        text = open(p.config_path).read()
        url = origin.url("/banned")
        assert_denied(p, get(p.port, url), url, "ban-loopback-clients",
                      where_of(text, p.config_path, "ban-loopback-clients"))
        assert origin.count("/banned") == 0
    finally:
        p.stop()


@pytest.fixture
def one_destination(tmp_path, origin):
    """127.0.0.1 may reach only 127.0.0.1:<origin port>; blocked.example is denied by name."""
    body = """
[sources]
local = ["127.0.0.1/32"]

[destinations]
origin = {{ cidrs = ["127.0.0.1/32"], ports = [{p}] }}
blocked = {{ hosts = ["blocked.example"] }}

[[rule]]
name = "no-blocked"
deny = {{ to = "blocked" }}

[[rule]]
name = "local-to-origin"
allow = {{ from = "local", to = "origin" }}
""".format(p=origin.port)
    p = start(tmp_path, body)
    yield p
    p.stop()


def test_destination_in_set_is_allowed(one_destination, origin):
    p = one_destination
    url = origin.url("/inside")
    out = get(p.port, url)
    assert status_of(out) == 200
    line = last_log_line(p, url)
    text = open(p.config_path).read()
    assert line["decision"] == "allow" and line["rule"] == "local-to-origin"
    assert line["rule_where"] == where_of(text, p.config_path, "local-to-origin")


@pytest.mark.parametrize("kind", ["other-port", "other-address"])
def test_destination_outside_set_is_refused(one_destination, origin, kind):
    p = one_destination
    # Something listens where the request points: it must see no connection.
    target = CountingListener(origin.port, host="127.0.0.2") if kind == "other-address" else CountingListener()
    try:
        url = {
            "other-port": "http://127.0.0.1:%d/x" % target.port,
            "other-address": "http://127.0.0.2:%d/x" % origin.port,
        }[kind]
        assert_denied(p, get(p.port, url), url, "default-deny", None)
        # CONNECT to a port the set does not name is the hard rule's to refuse.
        connect = url.split("/")[2]
        rule = "hard:connect-port" if kind == "other-port" else "default-deny"
        assert_denied(p, get(p.port, connect, "CONNECT"), connect, rule, None)
        assert target.connections == 0
    finally:
        target.close()


def test_deny_rule_on_destination_names_rule_and_line(one_destination):
    p = one_destination
    url = "http://blocked.example/"
    text = open(p.config_path).read()
    assert_denied(p, get(p.port, url), url, "no-blocked", where_of(text, p.config_path, "no-blocked"))


def test_error_page_names_the_rule(one_destination):
    p = one_destination
    out = get(p.port, "http://blocked.example/page")
    head, body = out.split(b"\r\n\r\n", 1)
    where = where_of(open(p.config_path).read(), p.config_path, "no-blocked")
    assert status_of(out) == 403
    assert b"<code>no-blocked</code>" in body
    # The pupil sees the rule's name; the file:line is for the log and `explain`.
    assert last_log_line(p, "http://blocked.example/page")["rule_where"] == where
    assert p.config_path.encode() not in out
    assert b".toml" not in out
    assert body.count(b"no-blocked") == 1
    status = [l for l in head.split(b"\r\n") if l.lower().startswith(b"proxy-status:")]
    assert len(status) == 1
    assert b"error=http_request_denied" in status[0]
    assert status[0].endswith(b'details="rule no-blocked"')


def test_error_page_names_a_hard_rule(one_destination):
    p = one_destination
    out = get(p.port, "http://127.0.0.1:25/")
    assert status_of(out) == 403
    head, body = out.split(b"\r\n\r\n", 1)
    assert b"<code>hard:port-25</code>" in body
    assert b'details="rule hard:port-25"' in head


def test_error_page_escapes_the_rule_name(tmp_path):
    # A rule name is admin text: HTML-escaped in the page, sf-string-escaped in Proxy-Status.
    body = r"""
[sources]
local = ["127.0.0.1/32"]

[destinations]
web = { hosts = ["*"], ports = [80] }
blocked = { hosts = ["blocked.example"] }

[[rule]]
name = "say \"<hi>\" & \\ bye"
deny = { to = "blocked" }

[[rule]]
name = "local-web"
allow = { from = "local", to = "web" }
"""
    p = start(tmp_path, body)
    try:
        out = get(p.port, "http://blocked.example/")
        head, page = out.split(b"\r\n\r\n", 1)
        assert status_of(out) == 403
        assert b"<code>say &quot;&lt;hi&gt;&quot; &amp; \\ bye</code>" in page
        assert b'details="rule say \\"<hi>\\" & \\\\ bye"' in head
        assert last_log_line(p, "http://blocked.example/")["rule"] == 'say "<hi>" & \\ bye'
    finally:
        p.stop()


@pytest.fixture
def any_host(tmp_path, origin):
    """Any host name on the origin's port and on 80/443, but no loopback CIDR opened."""
    body = """
[sources]
local = ["127.0.0.1/32"]

[destinations]
web = {{ hosts = ["*"], ports = [{p}, 80, 443] }}

[[rule]]
name = "local-web"
allow = {{ from = "local", to = "web" }}
""".format(p=origin.port)
    p = start(tmp_path, body)
    yield p
    p.stop()


@pytest.mark.parametrize("how", ["GET", "CONNECT"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_loopback_destination_refused_by_hard_rule(any_host, origin, how, host):
    p = any_host
    target = "%s:%d" % (host, origin.port)
    url = target if how == "CONNECT" else "http://%s/loop" % target
    assert_denied(p, get(p.port, url, how), url, "hard:special-address", None)
    assert origin.count("/loop") == 0
    assert origin.requests == []


@pytest.mark.parametrize("how", ["GET", "CONNECT"])
def test_cloud_metadata_refused_without_connecting(any_host, how):
    p = any_host
    url = "169.254.169.254:80" if how == "CONNECT" else "http://169.254.169.254/latest/meta-data/"
    # 403 from the policy, not 502/504 from a connection attempt.
    line = assert_denied(p, get(p.port, url, how), url, "hard:special-address", None)
    assert line["error"] is None


# --- special ranges open per destination set (issue #12, finding 3) -------------------


@pytest.fixture
def two_sets(tmp_path, origin):
    """Loopback opened by `intranet` for GET on the origin's port only; `web` is any
    host on the origin's port and on a second origin's port."""
    other = Origin()
    body = """
[sources]
local = ["127.0.0.1/32"]

[destinations]
web      = {{ hosts = ["*"], ports = [{a}, {b}] }}
intranet = {{ cidrs = ["127.0.0.1/32"], ports = [{a}], methods = ["GET"] }}

[[rule]]
name = "local-web-intranet"
allow = {{ from = "local", to = ["web", "intranet"] }}
""".format(a=origin.port, b=other.port)
    p = start(tmp_path, body)
    yield p, other
    p.stop()
    other.close()


def test_special_range_opened_only_for_what_its_set_matches(two_sets, origin):
    p, other = two_sets
    # The legitimate request: intranet names the address, the port and the method.
    ok = origin.url("/ok")
    answer = get(p.port, ok)
    assert status_of(answer) == 200, answer[:300]
    assert last_log_line(p, ok)["rule"] == "local-web-intranet"
    # Matched only by the wide set: the port, the method or CONNECT is not intranet's.
    leak = "http://127.0.0.1:%d/leak" % other.port
    assert_denied(p, get(p.port, leak), leak, "hard:special-address")
    tunnel = "127.0.0.1:%d" % other.port
    assert_denied(p, get(p.port, tunnel, "CONNECT"), tunnel, "hard:special-address")
    delete = origin.url("/delete")
    assert_denied(p, get(p.port, delete, "DELETE"), delete, "hard:special-address")
    # The page names the rule only; why is for the admin (`explain`, below).
    page = get(p.port, leak)
    assert b"hard:special-address" in page and b"matches the whole request" not in page
    assert other.requests == []
    assert origin.count("/delete") == 0


SCHOOL_PRINTER = """
[server]
listen = ["10.20.0.1:3128"]

[admin]
listen = ""

[sources]
classrooms = ["10.20.0.0/16"]

[destinations]
web     = { hosts = ["*"] }
printer = { cidrs = ["10.99.0.5/32"], ports = [80], methods = ["GET", "HEAD"] }

[[rule]]
name = "classrooms"
allow = { from = "classrooms", to = ["web", "printer"] }
"""


@pytest.mark.parametrize("to, method, rc, rule", [
    ("http://10.99.0.5:8080/admin", "POST", 1, "hard:special-address"),
    ("10.99.0.5:443", "", 1, "hard:special-address"),
    ("http://10.99.0.5/admin", "POST", 1, "hard:special-address"),
    ("http://10.99.0.5/", "GET", 0, "classrooms"),
])
def test_explain_opens_a_special_range_only_through_the_matching_set(tmp_path, to, method, rc,
                                                                   rule):
    path = tmp_path / "printer.toml"
    path.write_text(SCHOOL_PRINTER)
    args = [BIN, "explain", "-c", str(path), "--from", "10.20.3.4", "--to", to]
    if method:
        args += ["--method", method]
    proc = subprocess.run(args, capture_output=True, timeout=30)
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == rc, out
    assert "%s by %s" % ("ALLOW" if rc == 0 else "DENY", rule) in out, out


# --- the proxy itself with wildcard listens (issue #12, finding 6) ------------------

SELF_BODY = """
[server]
listen = ["{listen}"]
workers = 1

[log]
access = "{access}"
events = "-"

[admin]
listen = "{admin}"
allow = ["127.0.0.1/32"]

[sources]
local = ["127.0.0.1/32"]

[destinations]
local = {{ cidrs = ["127.0.0.0/8", "0.0.0.0/8", "::1/128"], ports = ["1-24", "26-65535"] }}

[[rule]]
name = "local-anywhere-local"
allow = {{ from = "local", to = "local" }}
"""


def self_proxy(tmp_path, listen, admin):
    text = SELF_BODY.format(listen=listen, admin=admin,
                            access=os.path.join(str(tmp_path), "access.log"))
    return Proxy(text, tmpdir=str(tmp_path))


def test_wildcard_listen_makes_every_local_address_self(tmp_path, origin):
    p = self_proxy(tmp_path, "0.0.0.0:0", "0.0.0.0:0")
    try:
        ready = p.wait_event("ready")
        assert ready["listen"].startswith("0.0.0.0:") and p.admin.startswith("0.0.0.0:")
        aport = int(p.admin.rsplit(":", 1)[1])
        # The rule does open loopback: an origin there is reached.
        answer = get(p.port, origin.url("/control"))
        assert status_of(answer) == 200, answer[:300]
        for url, method in [
            ("http://127.0.0.1:%d/status" % aport, "GET"),
            ("http://127.0.0.1:%d/cache/purge?url=x" % aport, "POST"),
            ("http://127.0.0.2:%d/status" % aport, "GET"),
            ("http://0.0.0.0:%d/" % aport, "GET"),
            ("http://[::1]:%d/status" % aport, "GET"),
            ("127.0.0.1:%d" % p.port, "CONNECT"),
            ("http://127.0.0.1:%d/" % p.port, "GET"),
        ]:
            answer = get(p.port, url, method)
            line = assert_denied(p, answer, url, "hard:self")
            assert line["error"] is None
        # A reload keeps the ports the kernel chose as the proxy's own.
        hup(p, "reload")
        for url, method in [("http://127.0.0.1:%d/status" % aport, "GET"),
                            ("127.0.0.1:%d" % p.port, "CONNECT")]:
            assert_denied(p, get(p.port, url, method), url, "hard:self")
    finally:
        p.stop()


def test_unspecified_address_reaches_a_loopback_listen(tmp_path):
    p = self_proxy(tmp_path, "127.0.0.1:0", "127.0.0.1:0")
    try:
        aport = int(p.admin.rsplit(":", 1)[1])
        for url in ["http://0.0.0.0:%d/" % aport, "http://0.0.0.0:%d/" % p.port]:
            assert_denied(p, get(p.port, url), url, "hard:self")
    finally:
        p.stop()


def test_validate_notes_what_a_wildcard_listen_makes_self(tmp_path):
    path = tmp_path / "wild.toml"
    path.write_text(SELF_BODY.format(listen="0.0.0.0:3128", admin="[::]:9090", access=""))
    for extra in [(), ("--strict",)]:
        proc = validate(path, *extra)
        err = proc.stderr.decode()
        assert proc.returncode == 0, err
        assert re.search(re.escape(str(path)) + r":3:\d+: note: '0\.0\.0\.0:3128' listens on "
                         r"every local address", err), err
        assert "'[::]:9090' listens on every local address" in err, err


@pytest.mark.parametrize("addr", [
    "::ffff:0:7f00:1",                        # SIIT form of 127.0.0.1
    "64:ff9b:1::7f00:1",                      # RFC 8215 local-use NAT64
    "2001:0:4136:e378:8000:63bf:80ff:fffe",   # Teredo, client 127.0.0.1
    "2002:7f00:1::1",                         # 6to4 of 127.0.0.1
    "198.18.0.1",                             # benchmarking
    "192.0.0.1",                              # IETF protocol assignments
])
@pytest.mark.parametrize("how", ["GET", "CONNECT"])
def test_special_purpose_addresses_refused_without_connecting(any_host, origin, addr, how):
    """Issue #12, finding 9: every address the attack run tried is refused by the policy."""
    p = any_host
    host = "[%s]" % addr if ":" in addr else addr
    target = "%s:%d" % (host, origin.port)
    url = target if how == "CONNECT" else "http://%s/x" % target
    line = assert_denied(p, get(p.port, url, how), url, "hard:special-address")
    assert line["error"] is None


@pytest.mark.parametrize("request_kind", ["CONNECT", "GET", "POST"])
def test_port_25_refused_and_logged_by_hard_rule(tmp_path, request_kind):
    smtp = listener_on_port_25()
    try:
        # Every port is named, and loopback is opened: port 25 stays shut anyway.
        body = """
[sources]
local = ["127.0.0.1/32"]

[destinations]
all = { cidrs = ["127.0.0.0/8"], hosts = ["*"], ports = ["1-65535"] }

[[rule]]
name = "everything"
allow = { from = "local", to = "all" }
"""
        p = start(tmp_path, body)
        try:
            if request_kind == "CONNECT":
                url = "localhost:25"
                out = get(p.port, url, "CONNECT")
            else:
                url = "http://localhost:25/"
                out = get(p.port, url, request_kind)
            line = assert_denied(p, out, url, "hard:port-25", None)
            assert line["method"] == request_kind
        finally:
            p.stop()
        assert smtp.connections == 0
    finally:
        smtp.close()


def test_connect_to_port_not_named_is_refused(tmp_path, origin):
    # A set without ports allows plain requests to any port but CONNECT only to 443.
    target = CountingListener()
    body = """
[sources]
local = ["127.0.0.1/32"]

[destinations]
loop = { cidrs = ["127.0.0.0/8"] }

[[rule]]
name = "local-loop"
allow = { from = "local", to = "loop" }
"""
    p = start(tmp_path, body)
    try:
        assert status_of(get(p.port, origin.url("/plain"))) == 200
        url = "127.0.0.1:%d" % target.port
        assert_denied(p, get(p.port, url, "CONNECT"), url, "hard:connect-port", None)
        assert target.connections == 0
    finally:
        p.stop()
        target.close()


# --- reloads -----------------------------------------------------------------------


def reload_body(origin_port, extra_ports="", deny_host="nothing.example", first_rule=""):
    """Allows 127.0.0.1 to the origin; `first_rule` goes before every other rule."""
    return """
[sources]
local = ["127.0.0.1/32"]

[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{p}{extra}] }}
unrelated = {{ hosts = ["{deny}"] }}
{first}
[[rule]]
name = "unrelated-deny"
deny = {{ to = "unrelated" }}

[[rule]]
name = "local-to-origin"
allow = {{ from = "local", to = "origin" }}
""".format(p=origin_port, extra=extra_ports, deny=deny_host, first=first_rule)


def rewrite(proxy, text):
    # Write a new file and rename it in place, as editors and config management do.
    tmp = proxy.config_path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, proxy.config_path)


def hup(proxy, expect, deadline=10.0):
    """Sends SIGHUP and waits for the reload outcome; fails on the other one."""
    seen = len(proxy.events)
    proxy.signal(signal.SIGHUP)
    end = time.monotonic() + deadline
    while True:
        for ev in proxy.events[seen:]:
            if ev.get("event") in ("reload", "reload_failed"):
                assert ev["event"] == expect, ev
                return ev
        if time.monotonic() > end:
            raise TimeoutError("no reload outcome after SIGHUP; got %r" % proxy.events[seen:])
        proxy._read_lines(0.2)


class KeepAliveLoad:
    """Threads sending requests through the proxy on keep-alive connections."""

    def __init__(self, proxy_port, url, threads=2, max_requests=300, max_seconds=10.0):
        self.proxy_port, self.url = proxy_port, url
        self.max_requests, self.end = max_requests, time.monotonic() + max_seconds
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=10)
        for _ in range(self.max_requests):
            if self.stop_flag.is_set() or time.monotonic() > self.end:
                break
            try:
                conn.request("GET", self.url)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or body != b"hello from origin\n":
                    raise AssertionError("status %d: %r" % (resp.status, body[:200]))
                if resp.will_close:
                    raise AssertionError("proxy closed the keep-alive connection")
                with self.lock:
                    self.ok += 1
            except Exception as e:  # every failure is a test failure, reported below
                with self.lock:
                    self.failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=10)
        conn.close()

    def count(self):
        with self.lock:
            return self.ok

    def wait_for_more(self, than, deadline=10.0):
        end = time.monotonic() + deadline
        while self.count() <= than and time.monotonic() < end and self.alive():
            time.sleep(0.01)  # polling a counter with a deadline
        return self.count() > than

    def alive(self):
        return any(t.is_alive() for t in self.threads)

    def finish(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(20)
        assert not self.alive()


def test_reload_under_load_loses_no_request_then_new_rules_apply(tmp_path, origin):
    p = start(tmp_path, reload_body(origin.port), workers=2)
    url = origin.url("/load")
    # Bounded (requests and seconds), and stopped as soon as the reloads are done.
    load = KeepAliveLoad(p.port, url, max_requests=20000, max_seconds=10.0)
    try:
        assert load.wait_for_more(0)
        variants = [
            reload_body(origin.port, extra_ports=", 8080"),
            reload_body(origin.port, deny_host="other.example"),
            reload_body(origin.port, extra_ports=", 8080, \"9000-9100\"", deny_host="x.example"),
            reload_body(origin.port),
            reload_body(origin.port, extra_ports=", 443"),
        ]
        for text in variants:
            rewrite(p, text)
            hup(p, "reload")
            # Requests keep flowing after each swap.
            assert load.wait_for_more(load.count())
        # The load covered every reload (it did not run out before the last one).
        assert load.alive()
        load.finish()
        assert load.failures == []
        assert load.ok > 0
        print("requests through %d reloads: %d" % (len(variants), load.ok))

        # Now a rule placed first denies the same requests.
        text = reload_body(origin.port, first_rule="""
[[rule]]
name = "origin-closed"
deny = { to = "origin" }
""")
        rewrite(p, text)
        hup(p, "reload")
        before = origin.count("/load")
        where = where_of(open(p.config_path).read(), p.config_path, "origin-closed")
        for i in range(4):  # several connections: both workers have the new rules
            u = url + "?after=%d" % i
            assert_denied(p, get(p.port, u), u, "origin-closed", where)
        assert origin.count("/load") == before
    finally:
        load.finish()
        p.stop()


def test_keep_alive_connection_gets_new_rules_after_reload(tmp_path, origin):
    p = start(tmp_path, reload_body(origin.port))
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
    try:
        conn.request("GET", origin.url("/ka"))
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"hello from origin\n"
        # The same connection, after the origin is removed from the allowed set.
        rewrite(p, reload_body(origin.port).replace("ports = [%d]" % origin.port, "ports = [1]"))
        hup(p, "reload")
        conn.request("GET", origin.url("/ka"))
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 403
        assert origin.count("/ka") == 1
    finally:
        conn.close()
        p.stop()


@pytest.mark.parametrize("broken", ["syntax", "allow-without-from"])
def test_broken_reload_keeps_old_rules(tmp_path, origin, broken):
    good = reload_body(origin.port)
    p = start(tmp_path, good)
    try:
        url = origin.url("/kept")
        assert status_of(get(p.port, url)) == 200
        if broken == "syntax":
            bad = good + "\n[destinations.more]\nhosts = [\"a.example\"\n"
            err_line = len(bad.split("\n")) - 1
        else:
            # Would allow everything from anywhere if it were read as a missing side = any.
            bad = good + '\n[[rule]]\nname = "no-from"\nallow = { to = "origin" }\n'
            err_line = len(bad.split("\n")) - 1
        rewrite(p, bad)
        ev = hup(p, "reload_failed")
        diags = ev["diagnostics"]
        m = re.search(re.escape(p.config_path) + r":(\d+):(\d+): error: ", diags)
        assert m, diags
        assert int(m.group(1)) in (err_line, err_line + 1), diags
        if broken == "allow-without-from":
            assert "from" in diags
        for i in range(3):
            assert status_of(get(p.port, url + "?%d" % i)) == 200
        # The old rules are whole: what they denied is still denied.
        assert status_of(get(p.port, "http://127.0.0.1:%d/" % (origin.port ^ 1))) == 403
        # A good file afterwards is taken.
        rewrite(p, good.replace("ports = [%d]" % origin.port, "ports = [1]"))
        hup(p, "reload")
        assert status_of(get(p.port, url + "?after")) == 403
    finally:
        p.stop()


# --- refusing to start -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["empty", "allow-without-from"])
def test_refuses_to_start_without_a_usable_rule(tmp_path, kind):
    port = free_port()
    if kind == "empty":
        text = ""
    else:
        text = acl_config(str(tmp_path), """
[sources]
local = ["127.0.0.1/32"]

[destinations]
web = { hosts = ["*"], ports = [80, 443] }

[[rule]]
name = "to-web"
allow = { to = "web" }
""", listen="127.0.0.1:%d" % port)
    path = tmp_path / "portcullis.toml"
    path.write_text(text)
    proc = subprocess.run([BIN, "run", "-c", str(path), "--allow-root"],
                          capture_output=True, timeout=15)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert '"event":"ready"' not in err
    assert "not starting" in err
    # The message shows how to write a rule that names both sides.
    assert 'allow = { from = "lan", to = "web" }' in err
    assert re.search(re.escape(str(path)) + r":\d+:\d+: error: ", err), err
    if kind != "empty":
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


# --- validate ----------------------------------------------------------------------


def validate(path, *extra):
    return subprocess.run([BIN, "validate", "-c", str(path)] + list(extra),
                          capture_output=True, timeout=30)


def shipped_configs():
    etc = os.path.join(SOURCE_DIR, "etc")
    files = [os.path.join(etc, f) for f in sorted(os.listdir(etc)) if f.endswith(".toml")]
    ex = os.path.join(etc, "examples")
    files += [os.path.join(ex, f) for f in sorted(os.listdir(ex)) if f.endswith(".toml")]
    return files


@pytest.mark.parametrize("path", shipped_configs(), ids=os.path.basename)
def test_shipped_configs_validate(path):
    proc = validate(path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"error" not in proc.stderr


def test_validate_reports_every_problem_with_position(tmp_path):
    ex = os.path.join(SOURCE_DIR, "etc", "examples")
    shutil.copy(os.path.join(ex, "blocklist.txt"), tmp_path / "blocklist.txt")
    text = open(os.path.join(ex, "school.toml")).read()
    text = text.replace('"10.20.0.0/16"', '"10.20.0.1/33"', 1)
    text = text.replace("[server]\n", "[server]\nno_such_key = 1\n", 1)
    text = text.replace('allow = { from = "staff", to = "web" }',
                        'allow = { from = "staff", to = "nowhere" }', 1)
    path = tmp_path / "school.toml"
    path.write_text(text)
    lines = text.split("\n")

    def pos(needle):
        for i, l in enumerate(lines):
            if needle in l:
                return "%s:%d:%d" % (path, i + 1, l.index(needle) + 1)
        raise AssertionError(needle)

    proc = validate(path)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    expected = [pos("no_such_key"), pos('"10.20.0.1/33"'), pos('"nowhere"')]
    for where in expected:
        assert where + ": error: " in err, (where, err)
    assert err.count(": error: ") == 3, err


def test_validate_strict_refuses_host_bits(tmp_path):
    text = open(os.path.join(SOURCE_DIR, "etc", "portcullis.toml")).read()
    text = text.replace('local = ["127.0.0.1/32", "::1/128"]', 'local = ["10.0.0.1/8"]')
    assert '"10.0.0.1/8"' in text
    path = tmp_path / "hostbits.toml"
    path.write_text(text)
    lenient = validate(path)
    assert lenient.returncode == 0, lenient.stderr.decode()
    assert b"warning" in lenient.stderr and b"10.0.0.1/8" in lenient.stderr
    strict = validate(path, "--strict")
    assert strict.returncode == 1, strict.stderr.decode()
    assert re.search(re.escape(str(path)) + r":\d+:\d+: warning: .*10\.0\.0\.1/8", strict.stderr.decode())


# --- explain -----------------------------------------------------------------------


SCHOOL = os.path.join(SOURCE_DIR, "etc", "examples", "school.toml")


@pytest.mark.parametrize("client, to, rc, rule", [
    ("10.20.3.4", "http://www.example.org/", 0, "classrooms-web"),
    ("10.30.1.1", "https-host.example:443", 0, "staff-web"),
    ("10.20.3.4", "http://intranet.school.example/", 0, "intranet"),
    ("10.20.3.4", "http://www.games.example/", 1, "blocklist"),
    # blocklist.txt has "*.ads.example": it blocks ads.example itself too.
    ("10.20.3.4", "http://ads.example/", 1, "blocklist"),
    ("10.20.3.4", "ads.example:443", 1, "blocklist"),
    ("127.0.0.1", "http://www.example.org/", 1, "default-deny"),
    ("10.20.3.4", "http://www.example.org:8080/", 1, "default-deny"),
    ("10.20.3.4", "mail.example.org:25", 1, "hard:port-25"),
    ("10.20.3.4", "www.example.org:8443", 1, "hard:connect-port"),
    ("10.20.3.4", "http://169.254.169.254/", 1, "hard:special-address"),
])
def test_explain_names_the_deciding_rule(client, to, rc, rule):
    proc = subprocess.run([BIN, "explain", "-c", SCHOOL, "--from", client, "--to", to],
                          capture_output=True, timeout=30)
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == rc, out
    verdict = "ALLOW" if rc == 0 else "DENY"
    assert "%s by %s" % (verdict, rule) in out, out
    if not rule.startswith(("hard:", "default-")):
        text = open(SCHOOL).read()
        assert where_of(text, SCHOOL, rule) in out, out


def test_explain_resolve_refuses_a_name_for_loopback():
    proc = subprocess.run([BIN, "explain", "-c", SCHOOL, "--from", "10.20.3.4",
                           "--to", "http://localhost/", "--resolve"],
                          capture_output=True, timeout=30)
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 1, out
    assert "DENY by hard:special-address" in out, out


# --- an open-proxy scanner -----------------------------------------------------------


def run_proxycheck(proxy_port, sink):
    greeting = "220 portcullis-acl-sink ready"
    cmd = ["proxycheck", "-t", "5", "-n", "-d", "127.0.0.1:%d" % sink.port,
           "-c", "chat::%s" % greeting,
           "-p", "hc:%d" % proxy_port, "-p", "ho:%d" % proxy_port, "-p", "hu:%d" % proxy_port,
           "127.0.0.1"]
    return subprocess.run(cmd, capture_output=True, timeout=40)


@pytest.fixture
def sink():
    s = CountingListener(greeting=b"220 portcullis-acl-sink ready\r\n")
    yield s
    s.close()


@pytest.mark.skipif(shutil.which("proxycheck") is None,
                    reason="proxycheck is not installed (packaging/build-deps.sh --test installs it)")
def test_proxycheck_finds_school_config_closed(tmp_path, sink):
    ex = os.path.join(SOURCE_DIR, "etc", "examples")
    shutil.copy(os.path.join(ex, "blocklist.txt"), tmp_path / "blocklist.txt")
    text = open(os.path.join(ex, "school.toml")).read()
    text = re.sub(r'(?m)^listen = \[.*\]$', 'listen = ["127.0.0.1:0"]', text, count=1)
    text = re.sub(r'(?m)^user = .*$', '', text)
    text = text.replace('dir = "/var/cache/portcullis"', 'dir = "%s"' % (tmp_path / "cache"))
    text = text.replace('access = "/var/log/portcullis/access.log"',
                        'access = "%s"' % (tmp_path / "access.log"))
    text = text.replace('listen = "unix:/run/portcullis/admin.sock"', 'listen = ""')
    assert "/var/" not in text and "/run/" not in text
    p = Proxy(text, tmpdir=str(tmp_path))
    try:
        proc = run_proxycheck(p.port, sink)
        out = proc.stdout.decode()
        assert proc.returncode == 0, (proc.returncode, out, proc.stderr.decode())
        assert " open" not in out
        assert sink.connections == 0
        lines = p.access_lines(1)
        assert all(l["decision"] == "deny" and l["rule"] == "default-deny" for l in lines), lines
    finally:
        p.stop()


@pytest.mark.skipif(shutil.which("proxycheck") is None, reason="proxycheck is not installed")
def test_proxycheck_positive_control_finds_opened_proxy(tmp_path, sink):
    # The same scan must report a proxy whose rules open the sink to 127.0.0.1,
    # or "nothing open" above would prove nothing.
    body = """
[sources]
local = ["127.0.0.1/32"]

[destinations]
sink = {{ cidrs = ["127.0.0.1/32"], ports = [{p}] }}

[[rule]]
name = "open-to-sink"
allow = {{ from = "local", to = "sink" }}
""".format(p=sink.port)
    p = start(tmp_path, body)
    try:
        proc = run_proxycheck(p.port, sink)
        out = proc.stdout.decode()
        assert proc.returncode == 100, (proc.returncode, out, proc.stderr.decode())
        assert "hc:%d open" % p.port in out
    finally:
        p.stop()
