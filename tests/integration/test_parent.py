"""Parent proxies ([[parent]]): requests go through other proxies started
here (Portcullis instances as parents, each with its own via_pseudonym and
access log), fail over to the next parent, then direct or 502
(never_direct), carry credentials to a parent that requires them, and never
offer port 25 to a parent. Hashing spreads cacheable URLs over the parents,
and losing one moves only its URLs. Parents given by name resolve through
the daemon's [dns] nameservers (a test nameserver here): followed when the
name moves, down when it does not resolve or resolves to the proxy itself.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from harness import (BIN, Proxy, Reader, ThreadedAcceptor, base_config, connect, free_port, get,
                     raw_exchange, status_of)
from test_observability import metrics, total

SECRET = "parent secret"


def portcullis_parent(started, tmp, origin_port, name, extra="", transform=None):
    """A Portcullis instance that lets 127.0.0.1 reach the origin: a parent."""
    os.makedirs(tmp, exist_ok=True)
    text = base_config([origin_port], log_dir=tmp, extra=extra)
    # Each proxy in a chain has its own name in Via, or the second would
    # take the request for a loop.
    text = text.replace("workers = 1\n", 'workers = 1\nvia_pseudonym = "%s"\n' % name, 1)
    if transform:
        text = transform(text)
    p = Proxy(text, tmpdir=tmp)
    started.append(p)
    return p


def parent_entry(name, port, extra=""):
    return '\n[[parent]]\nname = "%s"\naddress = "127.0.0.1:%d"\n%s\n' % (name, port, extra)


def child_proxy(started, tmp, origin_ports, parents, extra="", cache=False):
    os.makedirs(tmp, exist_ok=True)
    more = "".join(parents) + extra
    if cache:
        more += '\n[cache]\nenabled = true\ndir = "%s/cache"\n' % tmp
    p = Proxy(base_config(origin_ports, log_dir=tmp, extra=more), tmpdir=tmp)
    started.append(p)
    return p


def request(port, method, url):
    """One request without a body on a fresh connection."""
    s = connect(port)
    try:
        s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                  % (method.encode(), url.encode()))
        return Reader(s, 10).read_response(head_request=method == "HEAD")
    finally:
        s.close()


def get_through_tunnel(child, origin):
    """A CONNECT to the origin through `child`, then a GET inside the tunnel
    (plain HTTP, not port 443: relayed unread) that must come back whole."""
    s = connect(child.port)
    try:
        target = b"127.0.0.1:%d" % origin.port
        s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target))
        reader = Reader(s, 10)
        assert reader.read_response(head_request=True).status == 200
        s.sendall(b"GET /size/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = reader.read_response()
        assert r.status == 200 and len(r.body) == 7
    finally:
        s.close()


def test_request_through_a_parent(origin, tmp_path, started):
    p1 = portcullis_parent(started, str(tmp_path / "p1"), origin.port, "parent1")
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("p1", p1.port)])
    r = get(child.port, origin.url("/size/100"))
    assert r.status == 200 and len(r.body) == 100
    line = child.access_lines(1)[0]
    assert line["parent"] == "p1"
    assert line["upstream"] == "127.0.0.1:%d" % p1.port
    # The parent got it from the child, in absolute form, and fetched it.
    seen = p1.access_lines(1)[0]
    assert seen["url"] == origin.url("/size/100")
    assert seen["parent"] is None and seen["upstream"] == "127.0.0.1:%d" % origin.port
    via = origin.requests[-1]["headers"]["Via"]
    assert "portcullis" in via and "parent1" in via
    fams = metrics(child)
    assert total(fams, "portcullis_parent_requests_total", parent="p1") == 1
    assert total(fams, "portcullis_parent_up", parent="p1") == 1
    child.finish()
    p1.finish()


def test_connect_through_a_parent(origin, tmp_path, started):
    p1 = portcullis_parent(started, str(tmp_path / "p1"), origin.port, "parent1")
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("p1", p1.port)])
    get_through_tunnel(child, origin)
    assert child.access_lines(1)[0]["parent"] == "p1"
    seen = p1.access_lines(1)[0]
    assert seen["method"] == "CONNECT" and seen["url"] == "127.0.0.1:%d" % origin.port
    child.finish()
    p1.finish()


def test_parent_down_next_parent_then_direct(origin, tmp_path, started):
    p2 = portcullis_parent(started, str(tmp_path / "p2"), origin.port, "parent2")
    dead = free_port()
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("dead", dead), parent_entry("p2", p2.port)],
                        extra='\n[parents]\ncheck_interval = "0s"\n')
    # POST is not hashed: the parents are tried in file order.
    r = request(child.port, "POST", origin.url("/size/10"))
    assert r.status == 200
    assert child.access_lines(1)[0]["parent"] == "p2"
    assert len(p2.access_lines(1)) == 1
    fams = metrics(child)
    assert total(fams, "portcullis_parent_up", parent="dead") == 0
    assert total(fams, "portcullis_parent_failures_total", parent="dead") >= 1
    # p2 goes too: every parent is down, so direct.
    p2.finish()
    before = origin.count("/size/11")
    r = get(child.port, origin.url("/size/11"))
    assert r.status == 200 and len(r.body) == 11
    line = child.access_lines(2)[1]
    assert line["parent"] is None
    assert line["upstream"] == "127.0.0.1:%d" % origin.port
    assert origin.count("/size/11") == before + 1
    assert "parent2" not in origin.requests[-1]["headers"]["Via"]
    child.finish()


def test_all_parents_down_never_direct_is_502(origin, tmp_path, started):
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("dead1", free_port()),
                         parent_entry("dead2", free_port())],
                        extra="\n[parents]\nnever_direct = true\n")
    r = get(child.port, origin.url("/size/10"))
    assert r.status == 502
    assert b"never_direct" in r.body
    line = child.access_lines(1)[0]
    assert "never_direct" in line["error"] and "connect refused" in line["error"]
    assert origin.count("/size/10") == 0
    # Marked down, still tried (nothing else is allowed), still 502.
    assert get(child.port, origin.url("/size/10")).status == 502
    assert origin.count("/size/10") == 0
    child.finish()


def make_users(tmp):
    path = os.path.join(tmp, "users")
    r = subprocess.run(["htpasswd", "-B", "-b", "-c", path, "alice", SECRET],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


def test_parent_requiring_credentials(origin, tmp_path, started):
    ptmp = str(tmp_path / "p1")
    os.makedirs(ptmp)
    users = make_users(ptmp)

    def only_alice(text):
        # Credentials on the plain port from us only, and only alice reaches the origin.
        text = text.replace('local = ["127.0.0.1/32"]',
                            'local = { cidrs = ["127.0.0.1/32"], plaintext_auth = true }')
        return text.replace('allow = { from = "local", to = "origin" }',
                            'allow = { from = "local", to = "origin", users = ["alice"] }')

    p1 = portcullis_parent(started, ptmp, origin.port, "parent1",
                           extra='\n[auth]\nusers_file = "%s"\n' % users, transform=only_alice)
    secret = tmp_path / "parent.password"
    secret.write_text(SECRET + "\n")
    with_creds = child_proxy(
        started, str(tmp_path / "child"), [origin.port],
        [parent_entry("p1", p1.port, 'username = "alice"\npassword_file = "%s"' % secret)])
    r = get(with_creds.port, origin.url("/size/10"))
    assert r.status == 200
    seen = p1.access_lines(1)[0]
    assert seen["user"] == "alice" and seen["status"] == 200
    # CONNECT carries them too.
    target = b"127.0.0.1:%d" % origin.port
    out = raw_exchange(with_creds.port, b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
        target, target), deadline=5, read_until_close=False)
    assert status_of(out) == 200
    # Without them the parent refuses.
    without = child_proxy(started, str(tmp_path / "child2"), [origin.port],
                          [parent_entry("p1", p1.port)])
    r = get(without.port, origin.url("/size/10"))
    assert r.status != 200
    lines = p1.access_lines(3)
    assert any(x["status"] == 407 and x["user"] is None for x in lines), lines
    # The password is never written anywhere by the child.
    for proxy in (with_creds, without):
        with open(os.path.join(proxy.tmp, "access.log")) as f:
            assert SECRET not in f.read()
        assert not any(SECRET in line for line in proxy.lines)
    with_creds.finish()
    without.finish()
    p1.finish()


class RecordingParent(ThreadedAcceptor):
    """Stands in for a parent: records every byte that arrives and answers
    each request head with a small 200."""

    def __init__(self):
        self.received = b""
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, conn):
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            with self.lock:
                self.received += data
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def test_port_25_is_never_offered_to_a_parent(origin, tmp_path, started):
    fake = RecordingParent()
    try:
        # The destination set names port 25: only the hard rule refuses it.
        child = child_proxy(started, str(tmp_path / "child"), [origin.port, 25],
                            [parent_entry("recorder", fake.port)],
                            extra='\n[parents]\ncheck_interval = "0s"\n')
        r = get(child.port, "http://127.0.0.1:25/")
        assert r.status == 403
        out = raw_exchange(child.port, b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\n",
                           deadline=5, read_until_close=False)
        assert status_of(out) == 403
        lines = child.access_lines(2)
        assert [x["rule"] for x in lines] == ["hard:port-25", "hard:port-25"]
        assert fake.accepted == 0
        # The stand-in does get what is allowed, in absolute form.
        r = get(child.port, origin.url("/size/5"))
        assert r.status == 200 and r.body == b"ok"
        assert fake.accepted == 1
        with fake.lock:
            assert fake.received.startswith(b"GET %s HTTP/1.1\r\n" % origin.url("/size/5").encode())
            assert b":25" not in fake.received
        child.finish()
    finally:
        fake.close()


def test_hashing_spreads_urls_and_losing_a_parent_moves_only_its_share(origin, tmp_path,
                                                                        started):
    parents = [portcullis_parent(started, str(tmp_path / ("p%d" % i)), origin.port,
                                 "parent%d" % i) for i in range(3)]
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("p%d" % i, p.port) for i, p in enumerate(parents)])
    urls = [origin.url("/size/%d?n=%d" % (10 + i, i)) for i in range(36)]
    for u in urls:
        assert get(child.port, u).status == 200
    first = {x["url"]: x["parent"] for x in child.access_lines(len(urls))}
    share = {name: [u for u in urls if first[u] == name] for name in ("p0", "p1", "p2")}
    assert all(len(v) > 0 for v in share.values()), share
    # The same URL goes to the same parent again.
    assert get(child.port, urls[0]).status == 200
    assert child.access_lines(len(urls) + 1)[-1]["parent"] == first[urls[0]]
    parents[1].finish()
    for u in urls:
        assert get(child.port, u).status == 200
    second = {x["url"]: x["parent"] for x in child.access_lines(2 * len(urls) + 1)[-len(urls):]}
    for u in urls:
        if first[u] == "p1":
            assert second[u] in ("p0", "p2")
        else:
            assert second[u] == first[u], u  # untouched by p1's loss
    child.finish()
    parents[0].finish()
    parents[2].finish()


def test_cached_response_through_a_parent_is_served_from_cache(origin, tmp_path, started):
    p1 = portcullis_parent(started, str(tmp_path / "p1"), origin.port, "parent1")
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("p1", p1.port)], cache=True)
    url = origin.url("/c/via-parent?size=500")
    a = get(child.port, url)
    b = get(child.port, url)
    assert a.status == b.status == 200 and a.body == b.body and len(a.body) == 500
    lines = child.access_lines(2)
    assert [x["cache"] for x in lines] == ["MISS", "HIT"]
    assert lines[0]["parent"] == "p1" and lines[1]["parent"] is None
    assert origin.count("/c/via-parent") == 1
    assert len(p1.access_lines(1)) == 1
    child.finish()
    p1.finish()


def test_validate_reports_parent_errors(tmp_path):
    text = base_config([8080]) + """
[[parent]]
name = "a"
address = "proxy..example:3128"

[[parent]]
name = "a"
address = "127.0.0.1:25"
username = "bob"
to = ["nowhere"]
"""
    path = tmp_path / "p.toml"
    path.write_text(text)
    r = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "'address'" in out and "port 25" in out
    assert "already defined" in out
    assert "'username' and 'password_file' go together" in out
    assert "'nowhere', which is not a destination set" in out
    # Every one at its file:line:col.
    assert out.count("p.toml:") >= 5


def test_explain_names_the_parents(tmp_path):
    text = base_config([8080]) + parent_entry("p1", 3128) + parent_entry("p2", 3129) + \
        "\n[parents]\nnever_direct = true\n"
    path = tmp_path / "p.toml"
    path.write_text(text)
    args = [BIN, "explain", "-c", str(path), "--from", "127.0.0.1", "--to"]
    r = subprocess.run(args + ["http://127.0.0.1:8080/x"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "parents: p1 (127.0.0.1:3128), p2 (127.0.0.1:3129); one picked by hashing" in r.stdout
    assert "never direct" in r.stdout
    r = subprocess.run(args + ["127.0.0.1:8080"], capture_output=True, text=True)
    assert "tried in this order" in r.stdout


# --- TLS to a parent ([[parent]] tls = true) ---------------------------------

def tls_parent(started, tmp, origin_port, pki, extra="", transform=None):
    """A Portcullis parent with a listen_tls port (`portcullis tls init` pair)."""
    from test_tls_port import tls_init, tls_port
    tls_init(pki)

    def add_tls(text):
        text = text.replace(
            'listen = ["127.0.0.1:0"]\n',
            'listen = ["127.0.0.1:0"]\nlisten_tls = ["127.0.0.1:0"]\n'
            'tls_certificate = "%s/server.crt"\ntls_key = "%s/server.key"\n' % (pki, pki), 1)
        return transform(text) if transform else text

    p = portcullis_parent(started, tmp, origin_port, "tlsparent", extra=extra, transform=add_tls)
    return p, tls_port(p)


def test_get_and_connect_through_a_tls_parent(origin, tmp_path, started):
    pki = str(tmp_path / "pki")
    p1, port = tls_parent(started, str(tmp_path / "p1"), origin.port, pki)
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("p1", port, 'tls = true\ntls_ca = "%s/ca.crt"\n'
                                      'tls_name = "proxy.test"' % pki)])
    r = get(child.port, origin.url("/size/100"))
    line = child.access_lines(1)[0]
    assert r.status == 200 and len(r.body) == 100
    assert line["parent"] == "p1" and line["error"] is None
    seen = p1.access_lines(1)[0]
    assert seen["url"] == origin.url("/size/100") and seen["status"] == 200
    # CONNECT goes inside the parent's TLS session, and so do the tunnel's bytes.
    get_through_tunnel(child, origin)
    seen = p1.access_lines(2)[1]
    assert seen["method"] == "CONNECT" and seen["url"] == "127.0.0.1:%d" % origin.port
    child.finish()
    p1.finish()


def test_credentials_to_a_tls_parent(origin, tmp_path, started):
    ptmp = str(tmp_path / "p1")
    os.makedirs(ptmp)
    users = make_users(ptmp)

    def only_alice(text):
        # No plaintext_auth: credentials are accepted on the TLS port only.
        return text.replace('allow = { from = "local", to = "origin" }',
                            'allow = { from = "local", to = "origin", users = ["alice"] }')

    pki = str(tmp_path / "pki")
    p1, port = tls_parent(started, ptmp, origin.port, pki,
                          extra='\n[auth]\nusers_file = "%s"\n' % users, transform=only_alice)
    secret = tmp_path / "parent.password"
    secret.write_text(SECRET + "\n")
    # tls_name defaults to the address' IP: the certificate has 127.0.0.1 too.
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [parent_entry("p1", port, 'tls = true\ntls_ca = "%s/ca.crt"\n'
                                      'username = "alice"\npassword_file = "%s"' % (pki, secret))])
    r = get(child.port, origin.url("/size/10"))
    assert r.status == 200
    seen = p1.access_lines(1)[0]
    assert seen["user"] == "alice" and seen["status"] == 200
    # No clear-text warning: the credentials travel inside TLS.
    assert not any("clear text" in line for line in child.lines)
    child.finish()
    p1.finish()


def test_tls_parent_with_a_wrong_ca_is_down(origin, tmp_path, started):
    from test_tls_port import tls_init
    pki = str(tmp_path / "pki")
    p1, port = tls_parent(started, str(tmp_path / "p1"), origin.port, pki)
    other = str(tmp_path / "other")
    tls_init(other, name="other.test")
    entry = parent_entry("p1", port, 'tls = true\ntls_ca = "%s/ca.crt"' % other)
    # Failover: direct.
    child = child_proxy(started, str(tmp_path / "child"), [origin.port], [entry],
                        extra='\n[parents]\ncheck_interval = "0s"\n')
    r = get(child.port, origin.url("/size/10"))
    assert r.status == 200
    line = child.access_lines(1)[0]
    assert line["parent"] is None and line["upstream"] == "127.0.0.1:%d" % origin.port
    event = child.wait_event("parent_tls_failed")
    assert "p1" in event["error"] and "certificate verify failed" in event["error"]
    # never_direct: 502 naming the verify error.
    strict = child_proxy(started, str(tmp_path / "strict"), [origin.port], [entry],
                         extra='\n[parents]\ncheck_interval = "0s"\nnever_direct = true\n')
    r = get(strict.port, origin.url("/size/10"))
    assert r.status == 502
    line = strict.access_lines(1)[0]
    assert "never_direct" in line["error"] and "certificate verify failed" in line["error"]
    assert origin.count("/size/10") == 1
    child.finish()
    strict.finish()
    p1.finish()


# --- keep-alive to a TLS parent (the pool) ------------------------------------

@pytest.fixture
def pki(tmp_path):
    """A local CA and a certificate for proxy.test (`portcullis tls init`)."""
    from test_tls_port import tls_init
    path = str(tmp_path / "pki")
    tls_init(path)
    return path


class CountingTlsParent(ThreadedAcceptor):
    """A TLS parent proxy that counts connections (`accepted`: one handshake
    each) and records, per connection, the SNI it got, whether the handshake
    resumed a session, and the request lines.
    Every request gets a small 200 kept alive; a CONNECT gets 200 and then
    its bytes echoed. `idle_close` = "close_notify" or "tcp" closes each
    connection after its first response that way, then records in
    `idle_closed` whether the proxy closed its end too (within 10 s);
    `drop_second` closes a connection, unanswered, on its second request."""

    def __init__(self, pki, idle_close=None, drop_second=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki + "/server.crt", pki + "/server.key")
        self.ctx.sni_callback = self._sni
        self.idle_close = idle_close
        self.drop_second = drop_second
        self.lock = threading.Lock()
        self.sni = {}
        self.connections = []  # [{"sni": name or None, "requests": [request line, ...]}]
        self.idle_closed = []
        self.idle_event = threading.Event()
        super().__init__()

    def _sni(self, sock, name, ctx):
        with self.lock:
            self.sni[id(sock)] = name

    def handle(self, conn):
        conn.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        with self.lock:
            record = {"sni": self.sni.get(id(tls)), "resumed": tls.session_reused,
                      "requests": []}
            self.connections.append(record)
        try:
            self._serve(tls, record)
        except OSError:
            pass
        finally:
            tls.close()

    def _serve(self, tls, record):
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, data = data.split(b"\r\n\r\n", 1)
            line = head.split(b"\r\n", 1)[0].decode()
            length = 0
            for field in head.split(b"\r\n")[1:]:
                name, _, value = field.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(data) < length:
                data += tls.recv(65536)
            data = data[length:]
            with self.lock:
                record["requests"].append(line)
            if self.drop_second and len(record["requests"]) == 2:
                return  # closed unanswered (no close_notify)
            if line.startswith("CONNECT "):
                tls.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                while True:
                    chunk = data or tls.recv(65536)
                    data = b""
                    if not chunk:
                        return
                    tls.sendall(chunk)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            if self.idle_close:
                self._close_idle(tls)
                return

    def _close_idle(self, tls):
        closed = False
        try:
            if self.idle_close == "close_notify":
                # Sends close_notify, then waits for the proxy's answer or its close.
                tls.unwrap()
                closed = True
            else:
                tls.shutdown(socket.SHUT_WR)  # a TCP FIN without close_notify
                closed = tls.recv(1) == b""
        except TimeoutError:
            closed = False
        except (OSError, ssl.SSLError):
            closed = True  # the proxy closed the TCP connection
        with self.lock:
            self.idle_closed.append(closed)
        self.idle_event.set()


def pooled_tls_child(started, tmp, origin_ports, pki, parent_port, extra_entry="", extra=""):
    entry = parent_entry("p1", parent_port, 'tls = true\ntls_ca = "%s/ca.crt"\n%s'
                         % (pki, extra_entry))
    # No active checks: the only connections the parent sees are requests'.
    return child_proxy(started, tmp, origin_ports, [entry],
                       extra='\n[parents]\ncheck_interval = "0s"\n' + extra)


def test_sequential_requests_share_one_tls_connection(origin, tmp_path, started, pki):
    parent = CountingTlsParent(pki)
    try:
        child = pooled_tls_child(started, str(tmp_path / "child"), [origin.port], pki,
                                 parent.port, 'tls_name = "proxy.test"')
        url = "http://127.0.0.1:%d/x" % origin.port
        for _ in range(20):
            r = get(child.port, url)  # each on its own client connection
            assert r.status == 200 and r.body == b"ok"
        # One TCP connection, one handshake, twenty requests.
        assert parent.accepted == 1
        assert len(parent.connections[0]["requests"]) == 20
        line = child.access_lines(20)[-1]
        assert line["parent"] == "p1" and line["upstream"] == "tls:127.0.0.1:%d" % parent.port
        # A CONNECT never takes the idle connection (it becomes the tunnel)...
        s = connect(child.port)
        try:
            s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % origin.port)
            reader = Reader(s, 10)
            assert reader.read_response(head_request=True).status == 200
            s.sendall(b"ping")
            assert reader._take(4) == (b"ping", True)
        finally:
            s.close()
        assert parent.accepted == 2
        assert parent.connections[1]["requests"] == ["CONNECT 127.0.0.1:%d HTTP/1.1"
                                                     % origin.port]
        # ...which is still there for the next request.
        assert get(child.port, url).status == 200
        assert parent.accepted == 2 and len(parent.connections[0]["requests"]) == 21
        child.finish()
    finally:
        parent.close()


def test_tls_parent_closing_an_idle_connection(origin, tmp_path, started, pki):
    for how in ("close_notify", "tcp"):
        parent = CountingTlsParent(pki, idle_close=how)
        try:
            child = pooled_tls_child(started, str(tmp_path / how), [origin.port], pki,
                                     parent.port)
            url = "http://127.0.0.1:%d/x" % origin.port
            assert get(child.port, url).status == 200
            # The proxy notices the close of its idle connection and closes
            # its end at once (through the TLS filter), not on the next request.
            assert parent.idle_event.wait(10)
            assert parent.idle_closed == [True], how
            r = get(child.port, url)
            assert r.status == 200 and r.body == b"ok"
            assert parent.accepted == 2
            assert [line["error"] for line in child.access_lines(2)] == [None, None]
            child.finish()
        finally:
            parent.close()


def test_dead_reused_tls_connection_is_retried_like_a_plain_one(origin, tmp_path, started, pki):
    parent = CountingTlsParent(pki, drop_second=True)
    try:
        child = pooled_tls_child(started, str(tmp_path / "child"), [origin.port], pki,
                                 parent.port)
        url = "http://127.0.0.1:%d/x" % origin.port
        assert get(child.port, url).status == 200
        # The pooled connection dies with the request on it: a GET is sent
        # again, once, on a new connection.
        r = get(child.port, url)
        assert r.status == 200 and r.body == b"ok"
        assert parent.accepted == 2
        assert [len(c["requests"]) for c in parent.connections] == [2, 1]
        # A request with a body is never sent twice: 502.
        s = connect(child.port)
        try:
            s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                      b"Connection: close\r\n\r\nabc" % url.encode())
            assert Reader(s, 10).read_response().status == 502
        finally:
            s.close()
        assert parent.accepted == 2
        assert parent.connections[1]["requests"][1].startswith("POST ")
        line = child.access_lines(3)[2]
        assert line["status"] == 502 and line["error"] == "upstream closed before response"
        child.finish()
    finally:
        parent.close()


def test_tls_parents_with_different_names_never_share_a_connection(origin, tmp_path, started, pki):
    parent = CountingTlsParent(pki)
    port_a, port_b = free_port(), free_port()
    try:
        # Two parents on one address: p1 verifies (and sends as SNI)
        # proxy.test, p2 the IP (no SNI). The certificate has both.
        entries = [parent_entry("p1", parent.port, 'tls = true\ntls_ca = "%s/ca.crt"\n'
                                'tls_name = "proxy.test"\nto = ["a"]' % pki),
                   parent_entry("p2", parent.port, 'tls = true\ntls_ca = "%s/ca.crt"\n'
                                'to = ["b"]' % pki)]
        sets = ('\n[destinations.a]\ncidrs = ["127.0.0.0/8"]\nports = [%d]\n'
                '\n[destinations.b]\ncidrs = ["127.0.0.0/8"]\nports = [%d]\n' % (port_a, port_b))
        child = child_proxy(started, str(tmp_path / "child"), [port_a, port_b], entries,
                            extra='\n[parents]\ncheck_interval = "0s"\n' + sets)
        for _ in range(3):
            for port in (port_a, port_b):
                assert get(child.port, "http://127.0.0.1:%d/x" % port).status == 200
        assert parent.accepted == 2
        by_sni = {c["sni"]: c["requests"] for c in parent.connections}
        assert set(by_sni) == {"proxy.test", None}
        assert by_sni["proxy.test"] == ["GET http://127.0.0.1:%d/x HTTP/1.1" % port_a] * 3
        assert by_sni[None] == ["GET http://127.0.0.1:%d/x HTTP/1.1" % port_b] * 3
        assert [line["parent"] for line in child.access_lines(6)] == ["p1", "p2"] * 3
        child.finish()
    finally:
        parent.close()


def reload_with(proxy, old, new):
    with open(proxy.config_path) as f:
        text = f.read()
    assert old in text
    with open(proxy.config_path, "w") as f:
        f.write(text.replace(old, new, 1))
    seen = len(proxy.events)
    proxy.signal(signal.SIGHUP)
    event = proxy.wait_event("reload", seen=seen)
    assert event.get("error") is None, event


def test_reload_with_other_tls_settings_never_reuses_a_connection(origin, tmp_path, started, pki):
    shutil.copy(pki + "/ca.crt", pki + "/ca-copy.crt")
    parent = CountingTlsParent(pki)
    try:
        child = pooled_tls_child(started, str(tmp_path / "child"), [origin.port], pki,
                                 parent.port, 'tls_name = "proxy.test"')
        url = "http://127.0.0.1:%d/x" % origin.port
        for _ in range(2):
            assert get(child.port, url).status == 200
        assert parent.accepted == 1
        # Another tls_name: a new connection, verified (and SNI) as the IP.
        reload_with(child, 'tls_name = "proxy.test"', "")
        for _ in range(2):
            assert get(child.port, url).status == 200
        assert parent.accepted == 2 and parent.connections[1]["sni"] is None
        # The session of proxy.test is never offered for another name.
        assert not parent.connections[1]["resumed"]
        # Another tls_ca (same certificates, another file): a new connection.
        reload_with(child, '%s/ca.crt' % pki, '%s/ca-copy.crt' % pki)
        assert get(child.port, url).status == 200
        assert parent.accepted == 3 and not parent.connections[2]["resumed"]
        # A reload that leaves the TLS settings alone keeps the connection.
        reload_with(child, "[parents]\n", '[parents]\nretry_after = "31s"\n')
        assert get(child.port, url).status == 200
        assert parent.accepted == 3
        assert [len(c["requests"]) for c in parent.connections] == [2, 2, 2]
        child.finish()
    finally:
        parent.close()


def test_new_connections_to_a_tls_parent_resume_its_session(origin, tmp_path, started, pki):
    # The parent closes every connection after one response: each request
    # needs a new connection, and all but the first resume the session.
    parent = CountingTlsParent(pki, idle_close="tcp")
    try:
        child = pooled_tls_child(started, str(tmp_path / "child"), [origin.port], pki,
                                 parent.port, 'tls_name = "proxy.test"')
        url = "http://127.0.0.1:%d/x" % origin.port
        for i in range(3):
            assert get(child.port, url).status == 200
            assert parent.idle_event.wait(10)
            parent.idle_event.clear()
        assert parent.accepted == 3
        assert [c["resumed"] for c in parent.connections] == [False, True, True]
        child.finish()
    finally:
        parent.close()


# --- parents given by name -------------------------------------------------


def dns_section(ns):
    # TTL 0 answers, not held for min_ttl: a moved name is seen at once.
    return ('\n[dns]\nnameservers = ["127.0.0.1:%d"]\nhosts_file = false\nmin_ttl = "0s"\n'
            % ns.port)


def named_entry(name, host, port, extra=""):
    return '\n[[parent]]\nname = "%s"\naddress = "%s:%d"\n%s\n' % (name, host, port, extra)


@pytest.fixture
def nameserver():
    from test_sni import NamedNameserver
    ns = NamedNameserver({})
    yield ns
    ns.close()


def test_validate_accepts_a_parent_name_without_resolving_it(tmp_path):
    # Not resolved at validate time: a name no DNS knows is still valid.
    text = base_config([8080]) + named_entry("a", "proxy.district.invalid", 3128)
    path = tmp_path / "p.toml"
    path.write_text(text)
    r = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stdout + r.stderr


def test_request_through_a_parent_given_by_name_follows_the_name(origin, tmp_path, started,
                                                                 nameserver):
    p1 = portcullis_parent(started, str(tmp_path / "p1"), origin.port, "parent1")

    def on_127_0_0_2(text):
        # The same port on another loopback address: only DNS tells them apart.
        text = text.replace('listen = ["127.0.0.1:0"]', 'listen = ["127.0.0.2:%d"]' % p1.port, 1)
        return text.replace('local = ["127.0.0.1/32"]', 'local = ["127.0.0.0/8"]', 1)

    p2 = portcullis_parent(started, str(tmp_path / "p2"), origin.port, "parent2",
                           transform=on_127_0_0_2)
    nameserver.names["proxy.district.test"] = "127.0.0.1"
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [named_entry("p1", "proxy.district.test", p1.port)],
                        extra=dns_section(nameserver))
    r = get(child.port, origin.url("/size/100"))
    assert r.status == 200 and len(r.body) == 100
    line = child.access_lines(1)[0]
    # `parent` names the [[parent]]; `upstream` is the address it resolved to.
    assert line["parent"] == "p1"
    assert line["upstream"] == "127.0.0.1:%d" % p1.port
    assert p1.access_lines(1)[0]["url"] == origin.url("/size/100")
    # The name moves: the next request follows it, without a reload.
    nameserver.names["proxy.district.test"] = "127.0.0.2"
    r = request(child.port, "POST", origin.url("/size/10"))
    assert r.status == 200
    line = child.access_lines(2)[1]
    assert line["parent"] == "p1" and line["upstream"] == "127.0.0.2:%d" % p1.port
    assert p2.access_lines(1)[0]["url"] == origin.url("/size/10")
    assert "parent2" in origin.requests[-1]["headers"]["Via"]
    child.finish()
    p1.finish()
    p2.finish()


def test_parent_name_that_does_not_resolve_is_down(origin, tmp_path, started, nameserver):
    p2 = portcullis_parent(started, str(tmp_path / "p2"), origin.port, "parent2")
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [named_entry("gone", "gone.district.test", 3128),
                         parent_entry("p2", p2.port)],
                        extra=dns_section(nameserver) + '\n[parents]\ncheck_interval = "0s"\n')
    # File order (POST): the name fails to resolve, so the next parent.
    r = request(child.port, "POST", origin.url("/size/10"))
    assert r.status == 200
    assert child.access_lines(1)[0]["parent"] == "p2"
    event = child.wait_event("parent_address_failed")
    assert event["error"].startswith("gone: address gone.district.test: DNS: ")
    fams = metrics(child)
    assert total(fams, "portcullis_parent_up", parent="gone") == 0
    assert total(fams, "portcullis_parent_failures_total", parent="gone") >= 1
    # never_direct, and no other parent: 502 saying why.
    strict = child_proxy(started, str(tmp_path / "strict"), [origin.port],
                         [named_entry("gone", "gone.district.test", 3128)],
                         extra=dns_section(nameserver) +
                         '\n[parents]\ncheck_interval = "0s"\nnever_direct = true\n')
    r = get(strict.port, origin.url("/size/11"))
    assert r.status == 502
    assert b"gone.district.test" in r.body and b"never_direct" in r.body
    line = strict.access_lines(1)[0]
    assert line["error"].startswith("parent gone address gone.district.test: DNS: ")
    assert line["error"].endswith("; never_direct")
    assert origin.count("/size/11") == 0
    # Without never_direct: direct.
    loose = child_proxy(started, str(tmp_path / "loose"), [origin.port],
                        [named_entry("gone", "gone.district.test", 3128)],
                        extra=dns_section(nameserver) + '\n[parents]\ncheck_interval = "0s"\n')
    r = get(loose.port, origin.url("/size/11"))
    assert r.status == 200
    line = loose.access_lines(1)[0]
    assert line["parent"] is None and line["upstream"] == "127.0.0.1:%d" % origin.port
    child.finish()
    strict.finish()
    loose.finish()
    p2.finish()


def test_parent_name_resolving_to_the_proxy_itself_is_refused(origin, tmp_path, started,
                                                              nameserver):
    # The child's own port, known before it starts: the name points back at it.
    port = free_port()
    nameserver.names["loop.district.test"] = "127.0.0.1"
    text = base_config([origin.port], log_dir=str(tmp_path),
                       extra=named_entry("loop", "loop.district.test", port) +
                       dns_section(nameserver) +
                       '\n[parents]\ncheck_interval = "0s"\nnever_direct = true\n')
    text = text.replace('listen = ["127.0.0.1:0"]', 'listen = ["127.0.0.1:%d"]' % port, 1)
    child = Proxy(text, tmpdir=str(tmp_path))
    started.append(child)
    s = connect(child.port)
    try:
        # A CONNECT carries no Via: without the check it would come back to us
        # again and again (until the connection limits), a GET once (508).
        target = b"127.0.0.1:%d" % origin.port
        s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target))
        assert Reader(s, 10).read_response(head_request=True).status == 502
    finally:
        s.close()
    line = child.access_lines(1)[0]
    assert line["error"] == ("parent loop address loop.district.test: 127.0.0.1:%d is the proxy "
                             "itself (hard:self); never_direct" % port)
    event = child.wait_event("parent_address_failed")
    assert "hard:self" in event["error"]
    assert get(child.port, origin.url("/size/10")).status == 502
    assert len(child.access_lines(2)) == 2  # nothing came back in
    assert origin.count("/size/10") == 0
    child.finish()


def test_active_check_resolves_parent_names(origin, tmp_path, started, nameserver):
    p1 = portcullis_parent(started, str(tmp_path / "p1"), origin.port, "parent1")
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [named_entry("p1", "late.district.test", p1.port)],
                        extra=dns_section(nameserver) +
                        '\n[parents]\ncheck_interval = "1s"\nretry_after = "1m"\n')

    def up_becomes(value):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            fams = metrics(child)
            # The family appears with the first check.
            if ("portcullis_parent_up" in fams
                    and total(fams, "portcullis_parent_up", parent="p1") == value):
                return True
            time.sleep(0.1)
        return False

    # Not in DNS yet: the check finds it down, without any request.
    assert up_becomes(0)
    # In DNS now: the next check connects, and it is up before retry_after.
    nameserver.names["late.district.test"] = "127.0.0.1"
    assert up_becomes(1)
    assert nameserver.queries >= 2
    child.finish()
    p1.finish()


def test_tls_parent_given_by_name_is_verified_against_that_name(origin, tmp_path, started,
                                                                nameserver):
    pki = str(tmp_path / "pki")
    p1, port = tls_parent(started, str(tmp_path / "p1"), origin.port, pki)  # cert: proxy.test
    nameserver.names["proxy.test"] = "127.0.0.1"
    # No tls_name: the address' name is the one the certificate must carry.
    child = child_proxy(started, str(tmp_path / "child"), [origin.port],
                        [named_entry("p1", "proxy.test", port, 'tls = true\ntls_ca = "%s/ca.crt"'
                                     % pki)],
                        extra=dns_section(nameserver))
    r = get(child.port, origin.url("/size/100"))
    assert r.status == 200 and len(r.body) == 100
    line = child.access_lines(1)[0]
    assert line["parent"] == "p1" and line["upstream"] == "tls:127.0.0.1:%d" % port
    child.finish()
    p1.finish()
