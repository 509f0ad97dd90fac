"""SafeSearch and YouTube Restricted Mode without decryption: for the clients
of a [[safe_search]] source set, www.google.com (etc.) is connected to the
addresses of forcesafesearch.google.com (etc.), with the request unchanged.

A scripted nameserver gives every name its own 127.0.0.x address and an
origin on each address says which one it is: the proof is which local
address received the connection. The shipped lists (etc/safe-search) are
used as they are. Nothing here touches the internet.
"""
import os
import shutil
import signal
import subprocess

from harness import SOURCE_DIR, Proxy, ThreadedAcceptor, curl
from test_sni import NamedNameserver, TlsOrigin, make_cert

NAMES = {
    "www.google.com": "127.0.0.2",
    "forcesafesearch.google.com": "127.0.0.3",
    "www.youtube.com": "127.0.0.2",
    "restrict.youtube.com": "127.0.0.4",
    "restrictmoderate.youtube.com": "127.0.0.5",
    "www.bing.com": "127.0.0.2",
    "strict.bing.com": "127.0.0.6",
}


class HttpOrigin(ThreadedAcceptor):
    """Plain HTTP: answers with its own address and the Host it was asked for."""

    def __init__(self, host, port):
        self.host = host
        super().__init__(host=host, port=port)

    def handle(self, conn):
        conn.settimeout(5)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            host = [l for l in data.split(b"\r\n") if l.lower().startswith(b"host:")][0][5:].strip()
            body = b"origin " + self.host.encode() + b" for " + host
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))
        except (OSError, IndexError):
            pass
        finally:
            conn.close()


def config(tmp, dns_port, port, safe):
    return f"""
[server]
listen = ["127.0.0.1:0"]
workers = 1

[dns]
nameservers = ["127.0.0.1:{dns_port}"]
hosts_file = false

[log]
access = "{tmp}/access.log"
events = "-"

[admin]
listen = "127.0.0.1:0"

[sources]
classrooms = ["127.0.0.1/32"]

[destinations]
web = {{ hosts = ["*"], cidrs = ["127.0.0.0/8"], ports = [{port}] }}

[[rule]]
allow = {{ from = "classrooms", to = "web" }}

{safe}
"""


def test_safe_search_connects_to_the_forced_safe_addresses(tmp_path):
    tmp = str(tmp_path)
    shutil.copytree(os.path.join(SOURCE_DIR, "etc", "safe-search"), os.path.join(tmp, "safe-search"))
    cert = make_cert(tmp, list(NAMES))
    tls = [TlsOrigin("127.0.0.%d" % i, cert) for i in (2,)]
    port = tls[0].port
    tls += [TlsOrigin("127.0.0.%d" % i, cert, port=port) for i in (3, 4, 5, 6)]
    dns = NamedNameserver(NAMES)
    safe = ('[[safe_search]]\nfrom = "classrooms"\ngoogle = "strict"\nyoutube = "moderate"\n'
            'bing = "strict"\n')
    p = Proxy(config(tmp, dns.port, port, safe), tmpdir=tmp)
    try:
        def get(host):
            r = curl(["-x", p.url, "--cacert", cert[0], "https://%s:%d/" % (host, port)])
            assert r.returncode == 0, r.stderr
            return r.stdout
        # CONNECT www.google.com: the TLS name stays www.google.com (the SNI
        # check passes), but the connection goes to forcesafesearch's address.
        assert get("www.google.com") == b"origin 127.0.0.3"
        assert get("www.youtube.com") == b"origin 127.0.0.5"  # moderate
        assert get("www.bing.com") == b"origin 127.0.0.6"
        lines = p.access_lines(3)
        assert [l["upstream"].rsplit(":", 1)[0] for l in lines] == ["127.0.0.3", "127.0.0.5",
                                                                    "127.0.0.6"]
        assert lines[0]["sni"] == "www.google.com"
        # explain shows the substitution.
        out = subprocess.run([os.environ.get("PORTCULLIS_BIN"), "explain", "-c", p.config_path,
                              "--from", "127.0.0.1", "--to", "www.youtube.com:%d" % port],
                             capture_output=True, text=True).stdout
        assert "safe search: www.youtube.com is connected to the addresses of " \
               "restrictmoderate.youtube.com" in out, out
        # Reloadable: switch YouTube to strict and Google off.
        with open(p.config_path, "w") as f:
            f.write(config(tmp, dns.port, port, safe.replace('"moderate"', '"strict"')
                           .replace('google = "strict"', 'google = "off"')))
        seen = len(p.events)
        p.signal(signal.SIGHUP)
        ev = p.wait_event("reload", 10, seen=seen)
        assert not ev.get("diagnostics"), ev
        assert get("www.youtube.com") == b"origin 127.0.0.4"
        assert get("www.google.com") == b"origin 127.0.0.2"
        p.finish()
    finally:
        p.stop()
        for o in tls:
            o.close()
        dns.close()


def test_plain_http_is_substituted_and_not_cached_across_clients(tmp_path):
    tmp = str(tmp_path)
    shutil.copytree(os.path.join(SOURCE_DIR, "etc", "safe-search"), os.path.join(tmp, "safe-search"))
    normal = HttpOrigin("127.0.0.2", 0)
    forced = HttpOrigin("127.0.0.3", normal.port)
    dns = NamedNameserver(NAMES)
    p = Proxy(config(tmp, dns.port, normal.port, '[[safe_search]]\nfrom = "classrooms"\ngoogle = "strict"\n'),
              tmpdir=tmp)
    try:
        r = curl(["-x", p.url, "http://www.google.com:%d/search?q=x" % normal.port])
        assert r.stdout == b"origin 127.0.0.3 for www.google.com:%d" % normal.port
        line = p.access_lines(1)[0]
        assert line["cache"] == "BYPASS"
        assert line["upstream"].startswith("127.0.0.3:")
        p.finish()
    finally:
        p.stop()
        normal.close()
        forced.close()
        dns.close()
