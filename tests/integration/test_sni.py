"""The TLS name on CONNECT: after the 200 the proxy reads the ClientHello and
relays only when its SNI names the CONNECT host, or a host the rules allow
for this client that resolves to the address the tunnel is connected to.

Origins are Python TLS servers on 127.0.0.x with throwaway certificates;
names resolve through a scripted nameserver (per-name answers); the clients
are real curl and openssl s_client. Nothing here touches the internet.
"""
import os
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from harness import Proxy, ScriptedNameserver, ThreadedAcceptor, curl


class NamedNameserver(ScriptedNameserver):
    """Answers A queries from a {name: address} table; other names get no
    answer record (NOERROR, empty), which the resolver reports as a failure."""

    def __init__(self, names):
        self.names = names
        super().__init__()

    def _answer(self, query):
        qid, end = query[:2], 12
        labels = []
        while query[end] != 0:
            labels.append(query[end + 1:end + 1 + query[end]].decode().lower())
            end += 1 + query[end]
        qtype = struct.unpack("!H", query[end + 1:end + 3])[0]
        question = query[12:end + 5]
        address = self.names.get(".".join(labels))
        if address is None:
            return qid + b"\x81\x83" + struct.pack("!HHHH", 1, 0, 0, 0) + question  # NXDOMAIN
        answers = b""
        if qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + socket.inet_aton(address)
        return qid + b"\x81\x80" + struct.pack("!HHHH", 1, 1 if answers else 0, 0, 0) + question + answers


def make_cert(tmp, names):
    key, crt = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
    san = ",".join("DNS:" + n for n in names)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=" + names[0], "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    return crt, key


class TlsOrigin(ThreadedAcceptor):
    """An HTTPS origin on `host`: answers every request with its own address
    (so a test sees which origin it reached) and records the SNI it saw."""

    def __init__(self, host, cert, port=0):
        self.host = host
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.snis = []
        self.ctx.sni_callback = lambda sock, name, ctx: self.snis.append(name) and None
        super().__init__(host=host, port=port)

    def handle(self, conn):
        conn.settimeout(10)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                body = ("origin " + self.host).encode()
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                            % (len(body), body))
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


NAMES = {
    "allowed.test": "127.0.0.2",
    "shared.test": "127.0.0.2",    # another allowed name on the same address (a CDN)
    "blocked.test": "127.0.0.2",   # denied by the blocklist, same address
    "elsewhere.test": "127.0.0.3",  # allowed, but another address
}


@pytest.fixture
def world(tmp_path):
    cert = make_cert(str(tmp_path), list(NAMES))
    a = TlsOrigin("127.0.0.2", cert)
    b = TlsOrigin("127.0.0.3", cert, port=a.port)
    dns = NamedNameserver(NAMES)
    yield {"cert": cert, "a": a, "b": b, "dns": dns, "port": a.port, "tmp": tmp_path}
    a.close()
    b.close()
    dns.close()


def sni_config(w, extra="", server=""):
    return f"""
[server]
listen = ["127.0.0.1:0"]
workers = 1
sni_timeout = "3s"
{server}

[dns]
nameservers = ["127.0.0.1:{w['dns'].port}"]
hosts_file = false

[log]
access = "{w['tmp']}/access.log"
events = "-"

[admin]
listen = "127.0.0.1:0"

[abuse]
refusals_to_block = 0

[sources]
local = ["127.0.0.1/32"]

[destinations]
blocked = {{ hosts = ["blocked.test"], ports = [{w['port']}, 443] }}
origin = {{ hosts = ["*.test"], cidrs = ["127.0.0.0/8"], ports = [{w['port']}, 443] }}

[[rule]]
name = "blocklist"
deny = {{ to = "blocked" }}

[[rule]]
name = "local-to-origin"
allow = {{ from = "local", to = "origin" }}
{extra}
"""


def start(w, extra="", server=""):
    return Proxy(sni_config(w, extra, server), tmpdir=str(w["tmp"]))


def curl_via(p, w, url_host, connect_to=None):
    """curl https://url_host:PORT/ through the proxy. --connect-to makes curl
    CONNECT to another host while its SNI stays url_host."""
    args = ["-x", p.url, "--cacert", w["cert"][0], "https://%s:%d/" % (url_host, w["port"])]
    if connect_to:
        args = ["--connect-to", "%s:%d:%s:%d" % (url_host, w["port"], connect_to, w["port"])] + args
    return curl(args, deadline=15)


def last_line(p, n):
    return p.access_lines(n)[n - 1]


def test_sni_naming_the_connect_host_is_relayed_and_logged(world):
    p = start(world)
    try:
        r = curl_via(p, world, "allowed.test")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"origin 127.0.0.2"
        line = last_line(p, 1)
        assert line["url"] == "allowed.test:%d" % world["port"]
        assert line["sni"] == "allowed.test"
        assert line["alpn"] in ("h2,http/1.1", "http/1.1")
        assert line["decision"] == "allow"
        p.finish()
    finally:
        p.stop()


def test_allowed_connect_host_with_a_blocked_sni_is_closed_and_logged(world):
    p = start(world)
    try:
        # CONNECT allowed.test (passes the rules), then ask for blocked.test inside TLS.
        r = curl_via(p, world, "blocked.test", connect_to="allowed.test")
        assert r.returncode != 0
        assert world["a"].snis == [] or "blocked.test" not in world["a"].snis
        line = last_line(p, 1)
        assert line["url"] == "allowed.test:%d" % world["port"]
        assert line["sni"] == "blocked.test"
        assert line["decision"] == "deny"
        assert line["rule"] == "hard:sni-mismatch"
        assert "blocklist" in line["error"]
        assert line["termination"] == "denied_by_rule"
        p.finish()
    finally:
        p.stop()


def test_another_allowed_name_on_the_same_address_is_relayed(world):
    p = start(world)
    try:
        r = curl_via(p, world, "shared.test", connect_to="allowed.test")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"origin 127.0.0.2"
        assert last_line(p, 1)["sni"] == "shared.test"
        # An allowed name that lives on another address is not this tunnel's.
        r = curl_via(p, world, "elsewhere.test", connect_to="allowed.test")
        assert r.returncode != 0
        line = last_line(p, 2)
        assert line["rule"] == "hard:sni-mismatch"
        assert "connected address" in line["error"]
        p.finish()
    finally:
        p.stop()


def test_connect_to_an_ip_is_judged_by_the_sni(world):
    p = start(world)
    try:
        r = curl_via(p, world, "allowed.test", connect_to="127.0.0.2")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"origin 127.0.0.2"
        assert last_line(p, 1)["url"] == "127.0.0.2:%d" % world["port"]
        r = curl_via(p, world, "blocked.test", connect_to="127.0.0.2")
        assert r.returncode != 0
        line = last_line(p, 2)
        assert (line["sni"], line["rule"]) == ("blocked.test", "hard:sni-mismatch")
        p.finish()
    finally:
        p.stop()


def openssl_via(p, w, connect_host, servername=None):
    """openssl s_client through the proxy (-proxy sends the CONNECT); returns
    (exit code, output)."""
    args = ["openssl", "s_client", "-ign_eof", "-proxy", "127.0.0.1:%d" % p.port,
            "-connect", "%s:%d" % (connect_host, w["port"]), "-CAfile", w["cert"][0]]
    args += ["-servername", servername] if servername else ["-noservername"]
    proc = subprocess.run(args, input=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", capture_output=True,
                          timeout=20)
    return proc.returncode, proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def test_openssl_s_client_with_a_blocked_and_an_allowed_name(world):
    p = start(world)
    try:
        rc, out = openssl_via(p, world, "allowed.test", "blocked.test")
        assert "origin 127.0.0.2" not in out
        assert last_line(p, 1)["rule"] == "hard:sni-mismatch"
        rc, out = openssl_via(p, world, "allowed.test", "allowed.test")
        assert "origin 127.0.0.2" in out, out
        p.finish()
    finally:
        p.stop()


def test_no_sni_is_denied_by_default_and_allowed_per_source_set(world):
    p = start(world)
    try:
        rc, out = openssl_via(p, world, "allowed.test")
        assert "origin 127.0.0.2" not in out
        line = last_line(p, 1)
        assert (line["rule"], line["sni"]) == ("sni:no-sni", None)
        p.finish()
    finally:
        p.stop()
    p = start(world, extra='[[sni]]\nfrom = "local"\nno_sni = "allow"\n')
    try:
        rc, out = openssl_via(p, world, "allowed.test")
        assert "origin 127.0.0.2" in out, out
        p.finish()
    finally:
        p.stop()


def client_hello(sni, ech=False):
    """A TLS 1.3 ClientHello (RFC 8446 §4.1.2) with server_name and, when
    `ech`, an encrypted_client_hello extension (0xfe0d) as a GREASE client
    would send it."""
    def ext(t, data):
        return struct.pack("!HH", t, len(data)) + data
    name = sni.encode()
    entry = b"\x00" + struct.pack("!H", len(name)) + name
    exts = ext(0, struct.pack("!H", len(entry)) + entry)
    exts += ext(43, b"\x02\x03\x04")
    exts += ext(10, b"\x00\x02\x00\x1d")
    exts += ext(13, b"\x00\x02\x08\x04")
    exts += ext(51, b"\x00\x24\x00\x1d\x00\x20" + os.urandom(32))
    if ech:
        exts += ext(0xFE0D, b"\x00\x00\x01\x00\x01\x2a\x00\x20" + os.urandom(32) + b"\x00\x10" + os.urandom(16))
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + b"\x00\x02\x13\x01\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    msg = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(msg)) + msg


def tunnel(p, target):
    raw = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    s = Tunnel(fileno=raw.detach())
    s.settimeout(10)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, buf
        buf += chunk
    assert buf.startswith(b"HTTP/1.1 200"), buf
    s.rest = buf.split(b"\r\n\r\n", 1)[1]  # what the origin sent first, if anything
    return s


class Tunnel(socket.socket):
    pass


def answered(s):
    """True when the origin answered the ClientHello (a ServerHello record)."""
    try:
        data = s.recv(5)
    except (ConnectionResetError, socket.timeout):
        return False
    finally:
        s.close()
    return data[:1] == b"\x16"


def test_ech_offered_is_judged_by_its_outer_sni_or_denied(world):
    target = "allowed.test:%d" % world["port"]
    p = start(world)
    try:
        s = tunnel(p, target)
        s.sendall(client_hello("allowed.test", ech=True))
        assert answered(s)  # default "allow": the outer SNI names the CONNECT host
        s = tunnel(p, target)
        s.sendall(client_hello("blocked.test", ech=True))
        assert not answered(s)
        assert last_line(p, 2)["rule"] == "hard:sni-mismatch"
        p.finish()
    finally:
        p.stop()
    p = start(world, extra='[[sni]]\nfrom = "local"\nech = "deny"\n')
    try:
        s = tunnel(p, target)
        s.sendall(client_hello("allowed.test", ech=True))
        assert not answered(s)
        assert last_line(p, 3)["rule"] == "sni:ech"  # the log file is shared with the first run
        s = tunnel(p, target)
        s.sendall(client_hello("allowed.test"))
        assert answered(s)
        p.finish()
    finally:
        p.stop()


def test_client_hello_dripped_byte_by_byte_is_read(world):
    p = start(world)
    try:
        s = tunnel(p, "allowed.test:%d" % world["port"])
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in client_hello("shared.test"):
            s.send(bytes([b]))
        assert answered(s)
        assert last_line(p, 1)["sni"] == "shared.test"
        p.finish()
    finally:
        p.stop()


def test_non_tls_bytes_are_relayed_on_other_ports_and_sni_check_can_be_off(world):
    # A plain TCP origin on the same port number elsewhere: HTTP inside the tunnel.
    class Echo(ThreadedAcceptor):
        def handle(self, conn):
            conn.settimeout(5)
            try:
                conn.sendall(conn.recv(100))
            except OSError:
                pass
            conn.close()
    e = Echo(host="127.0.0.4")
    w = dict(world, port=e.port)
    p = start(w)
    try:
        s = tunnel(p, "127.0.0.4:%d" % e.port)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert s.recv(100) == b"GET / HTTP/1.1\r\n\r\n"
        s.close()
        assert last_line(p, 1)["decision"] == "allow"
        p.finish()
    finally:
        p.stop()
        e.close()
    p = start(world, server="sni_check = false")
    try:
        r = curl_via(p, world, "blocked.test", connect_to="allowed.test")
        assert r.returncode == 0 and r.stdout == b"origin 127.0.0.2"
        assert last_line(p, 1)["sni"] is None
        p.finish()
    finally:
        p.stop()


def test_not_tls_on_port_443_is_denied(world):
    class Listener(ThreadedAcceptor):
        def handle(self, conn):
            conn.close()
    try:
        l443 = Listener(host="127.0.0.5", port=443)
    except OSError as e:
        pytest.skip("cannot bind 127.0.0.5:443 here: %s" % e)
    p = start(world)
    try:
        s = tunnel(p, "127.0.0.5:443")
        s.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        s.settimeout(5)
        assert s.recv(100) == b""
        s.close()
        line = last_line(p, 1)
        assert line["rule"] == "sni:not-tls"
        # A client that says nothing on 443 is closed after sni_timeout (3s here).
        s = tunnel(p, "127.0.0.5:443")
        s.settimeout(10)
        t0 = time.monotonic()
        assert s.recv(100) == b""
        assert 2 < time.monotonic() - t0 < 8
        s.close()
        line = last_line(p, 2)
        assert (line["rule"], line["termination"]) == ("sni:timeout", "client_timeout")
        p.finish()
    finally:
        p.stop()
        l443.close()


def test_server_speaks_first_on_another_port_is_not_held(world):
    # The origin greets first (SMTP-like); the client answers only after the
    # greeting: the check must pass the greeting on while it waits.
    class Greeter(ThreadedAcceptor):
        def handle(self, conn):
            conn.settimeout(5)
            try:
                conn.sendall(b"220 hello\r\n")
                conn.sendall(conn.recv(100))
            except OSError:
                pass
            conn.close()
    g = Greeter(host="127.0.0.4")
    p = start(dict(world, port=g.port))
    try:
        s = tunnel(p, "127.0.0.4:%d" % g.port)
        s.settimeout(2)  # well under sni_timeout (3s)
        greeting = s.rest
        while len(greeting) < 11:
            greeting += s.recv(100)
        assert greeting == b"220 hello\r\n"
        s.sendall(b"EHLO x\r\n")
        s.settimeout(5)
        assert s.recv(100) == b"EHLO x\r\n"
        s.close()
        p.finish()
    finally:
        p.stop()
        g.close()
