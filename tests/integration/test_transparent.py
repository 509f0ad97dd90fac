"""Transparent mode for real: network namespaces, veth pairs and nftables
rules made by the test (issue 17, item 4).

    client ns (curl)                 root ns (Portcullis)               origin ns
    10.213.K.2 --veth-- 10.213.K.1   nft: iifname vc-* tcp dport        10.214.K.2, and
    default via .1                   {25,80,443} redirect to :P,        198.51.100.X on lo
                                     tcp dport 8080 tproxy to :Q        :80 :8080 http,
                                     route 198.51.100.X via 10.214.K.2  :443 tls, :25

curl in the client namespace talks to 198.51.100.X as if there were no
proxy; the kernel redirects it to Portcullis's listen_transparent socket,
which must decide by Host or SNI, check them against the original
destination and connect only there. The origin namespace's servers print
every request they get, so each test says whether the origin was reached.

Skipped only where the machine forbids network namespaces; everything made
here (namespaces, veths, the route, the nft table, the origin process) is
removed at teardown, on failure too, and carries this run's unique tag."""

import json
import os
import queue
import secrets
import socket
import subprocess
import threading
import time

import pytest

from harness import Proxy, ScriptedNameserver

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


def namespaces_allowed():
    """(True, "") when this machine lets us make a network namespace and
    nftables rules in it; else (False, why)."""
    probe = "pcprobe-" + secrets.token_hex(3)
    try:
        r = sh("ip", "netns", "add", probe, check=False)
    except FileNotFoundError:
        return False, "iproute2 (ip) is not installed"
    if r.returncode != 0:
        return False, "ip netns add is not allowed here: " + r.stderr.strip()
    sh("ip", "netns", "del", probe, check=False)
    return True, ""


ALLOWED, WHY = namespaces_allowed()
pytestmark = pytest.mark.skipif(not ALLOWED, reason="network namespaces forbidden: " + WHY)


class NamedServer(ScriptedNameserver):
    """Answers A queries from a table (name -> address); other names get
    the default address."""

    def __init__(self, table, default):
        self.table = table
        super().__init__(default)

    def _answer(self, query):
        labels, i = [], 12
        while query[i] != 0:
            labels.append(query[i + 1:i + 1 + query[i]].decode())
            i += 1 + query[i]
        name = ".".join(labels).lower()
        saved = self.address
        self.address = self.table.get(name, saved)
        try:
            return super()._answer(query)
        finally:
            self.address = saved


class Network:
    """The three namespaces and what joins them; close() undoes it all."""

    def __init__(self, tmp):
        self.tag = secrets.token_hex(3)
        k = int(self.tag[:2], 16) % 250 + 1
        self.client_ns = "pcc-" + self.tag
        self.origin_ns = "pco-" + self.tag
        self.client_if = "vc-" + self.tag  # root side of the client link
        self.origin_if = "vo-" + self.tag
        self.table = "pctp_" + self.tag
        self.gateway = f"10.213.{k}.1"
        self.client_ip = f"10.213.{k}.2"
        self.origin_link = f"10.214.{k}.2"
        self.origin_ip = f"198.51.100.{10 + k % 200}"
        self.undo = []
        self.origin = None
        self.events = queue.Queue()
        self.tmp = tmp

    def build(self):
        c, o = self.client_ns, self.origin_ns
        for ns in (c, o):
            sh("ip", "netns", "add", ns)
            self.undo.append(("ip", "netns", "del", ns))
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", self.client_if, "type", "veth", "peer", "name", "eth0", "netns", c)
        self.undo.append(("ip", "link", "del", self.client_if))
        sh("ip", "link", "add", self.origin_if, "type", "veth", "peer", "name", "eth0", "netns", o)
        self.undo.append(("ip", "link", "del", self.origin_if))
        k = self.gateway.split(".")[2]
        sh("ip", "addr", "add", self.gateway + "/30", "dev", self.client_if)
        sh("ip", "addr", "add", f"10.214.{k}.1/30", "dev", self.origin_if)
        for dev in (self.client_if, self.origin_if):
            sh("ip", "link", "set", dev, "up")
        sh("ip", "-n", c, "addr", "add", self.client_ip + "/30", "dev", "eth0")
        sh("ip", "-n", o, "addr", "add", self.origin_link + "/30", "dev", "eth0")
        sh("ip", "-n", o, "addr", "add", self.origin_ip + "/32", "dev", "lo")
        for ns in (c, o):
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", c, "route", "add", "default", "via", self.gateway)
        sh("ip", "-n", o, "route", "add", "default", "via", f"10.214.{k}.1")
        sh("ip", "route", "add", self.origin_ip + "/32", "via", self.origin_link)
        self.undo.append(("ip", "route", "del", self.origin_ip + "/32"))

    def start_origin(self):
        cert, key = os.path.join(self.tmp, "origin.crt"), os.path.join(self.tmp, "origin.key")
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
           "-subj", "/CN=www.allowed.test", "-keyout", key, "-out", cert)
        self.origin = subprocess.Popen(
            ["ip", "netns", "exec", self.origin_ns, "/usr/bin/python3",
             os.path.join(HERE, "netns_origin.py"), cert, key],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_origin, daemon=True).start()
        ready = self.events.get(timeout=15)
        assert ready.get("ready"), ready

    def _read_origin(self):
        for line in self.origin.stdout:
            self.events.put(json.loads(line))

    def origin_seen(self):
        """What the origin reported since the last call."""
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def redirect(self, port, tproxy_port):
        """The gateway's rules: the client's TCP 25, 80 and 443 are NATed to
        `port` (redirect); its TCP 8080 is handed to `tproxy_port` unchanged
        (tproxy, with this run's mark routed to the local host)."""
        mark = 0x5C00 + int(self.tag[:2], 16)
        table = 1000 + int(self.tag[:2], 16)
        sh("ip", "rule", "add", "fwmark", hex(mark), "lookup", str(table))
        self.undo.append(("ip", "rule", "del", "fwmark", hex(mark), "lookup", str(table)))
        sh("ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", str(table))
        self.undo.append(("ip", "route", "flush", "table", str(table)))
        rules = (f"table ip {self.table} {{\n"
                 f"  chain prerouting {{\n"
                 f"    type nat hook prerouting priority dstnat;\n"
                 f"    iifname \"{self.client_if}\" tcp dport {{ 25, 80, 443 }} redirect to :{port}\n"
                 f"  }}\n"
                 f"  chain mangle {{\n"
                 f"    type filter hook prerouting priority mangle;\n"
                 f"    iifname \"{self.client_if}\" tcp dport 8080 tproxy to :{tproxy_port} "
                 f"meta mark set {hex(mark)} accept\n"
                 f"  }}\n}}\n")
        self.undo.append(("nft", "delete", "table", "ip", self.table))
        subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True, timeout=30)

    def curl(self, *args):
        return subprocess.run(
            ["ip", "netns", "exec", self.client_ns, "curl", "-sS", "--max-time", "10",
             "-o", "-", "-w", "\n%{http_code}"] + list(args),
            capture_output=True, text=True, timeout=30)

    def close(self):
        if self.origin and self.origin.poll() is None:
            self.origin.kill()
            self.origin.wait(10)
        for cmd in reversed(self.undo):
            subprocess.run(list(cmd), capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("transparent"))
    network = Network(tmp)
    dns = None
    proxy = None
    try:
        network.build()
        network.start_origin()
        dns = NamedServer({"elsewhere.test": "198.51.100.250"}, network.origin_ip)
        config = f"""
[server]
listen = ["127.0.0.1:0"]
listen_transparent = ["{network.gateway}:0", "0.0.0.0:0"]
workers = 1

[dns]
nameservers = ["127.0.0.1:{dns.port}"]
hosts_file = false

[cache]
enabled = true
dir = "{tmp}/cache"
min_free_disk = "0"

[log]
access = "{tmp}/access.log"
events = "-"

[admin]
listen = "127.0.0.1:0"

[abuse]
refusals_to_block = 0

[sources]
clients = ["{network.client_ip}/32"]

[destinations]
blocked = {{ hosts = ["blocked.test"] }}
internet = {{ cidrs = ["198.51.100.0/24"], ports = [25, 80, 443, 8080] }}

[[rule]]
name = "no-blocked"
deny = {{ from = "clients", to = "blocked" }}

[[rule]]
name = "clients-to-internet"
allow = {{ from = "clients", to = "internet" }}
"""
        proxy = Proxy(config, tmpdir=tmp)
        ready = proxy.wait_event("ready")
        redirected, tproxied = ready["listen_transparent"].split()
        network.port = int(redirected.rsplit(":", 1)[1])
        network.redirect(network.port, int(tproxied.rsplit(":", 1)[1]))
        # Root here: the tproxy socket got IP_TRANSPARENT.
        assert not [e for e in proxy.events if e.get("event") == "transparent_no_tproxy"]
        network.proxy = proxy
        yield network
        proxy.finish()
    finally:
        if proxy is not None:
            proxy.stop()
        if dns is not None:
            dns.close()
        network.close()


def new_records(net, before):
    """The access records written after the first `before`."""
    lines = net.proxy.access_lines(before + 1)
    return lines[before:]


def records_so_far(net):
    path = os.path.join(net.proxy.tmp, "access.log")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def body_and_code(result):
    body, _, code = result.stdout.rpartition("\n")
    return body, int(code or 0)


def test_allowed_get_goes_through_and_is_cached_on_the_second_fetch(net):
    n = records_so_far(net)
    url = "http://www.allowed.test/hello"
    resolve = f"www.allowed.test:80:{net.origin_ip}"
    first = net.curl("--resolve", resolve, url)
    second = net.curl("--resolve", resolve, url)
    assert body_and_code(first) == ("http origin says hi /hello\n", 200), first.stderr
    assert body_and_code(second) == ("http origin says hi /hello\n", 200), second.stderr
    seen = [e for e in net.origin_seen() if e.get("scheme") == "http"]
    assert len(seen) == 1, seen  # the second came from the cache
    assert seen[0]["host"] == "www.allowed.test"
    first_rec, second_rec = net.proxy.access_lines(n + 2)[n:n + 2]
    for rec in (first_rec, second_rec):
        assert rec["mode"] == "transparent"
        assert rec["url"] == url
        assert rec["client"].startswith(net.client_ip + ":")
        assert rec["rule"] == "clients-to-internet"
    assert first_rec["cache"] == "MISS"
    assert first_rec["upstream"] == f"{net.origin_ip}:80"
    assert second_rec["cache"] == "HIT"


@pytest.mark.parametrize("host", ["elsewhere.test", "198.51.100.250"])
def test_host_that_disagrees_with_the_destination_is_refused(net, host):
    n = records_so_far(net)
    result = net.curl("-H", f"Host: {host}", f"http://{net.origin_ip}/steal")
    body, code = body_and_code(result)
    assert code == 409, result
    rec = new_records(net, n)[0]
    assert rec["decision"] == "deny"
    assert rec["rule"] == "hard:transparent-host-mismatch"
    assert rec["termination"] == "transparent_mismatch"
    assert rec["mode"] == "transparent"
    assert not [e for e in net.origin_seen() if e.get("path") == "/steal"]


def test_port_25_is_refused(net):
    n = records_so_far(net)
    result = net.curl(f"http://{net.origin_ip}:25/")
    _, code = body_and_code(result)
    assert code == 403, result
    rec = new_records(net, n)[0]
    assert rec["rule"] == "hard:port-25"
    assert rec["mode"] == "transparent"
    assert not [e for e in net.origin_seen() if e.get("smtp")]


def test_the_transparent_port_itself_is_not_a_destination(net):
    # No redirect here: the client connects straight to the proxy's
    # transparent socket, so the "original destination" is the proxy
    # itself, which must be refused rather than connected to (a loop).
    n = records_so_far(net)
    result = net.curl(f"http://{net.gateway}:{net.port}/")
    _, code = body_and_code(result)
    assert code == 403, result
    assert new_records(net, n)[0]["rule"] == "hard:self"


def test_tls_with_an_allowed_sni_is_spliced_to_the_destination(net):
    n = records_so_far(net)
    result = net.curl("-k", "--resolve", f"www.allowed.test:443:{net.origin_ip}",
                      "https://www.allowed.test/secure")
    assert body_and_code(result) == ("https origin says hi /secure\n", 200), result.stderr
    seen = [e for e in net.origin_seen() if e.get("scheme") == "https"]
    assert [e["path"] for e in seen] == ["/secure"]
    rec = new_records(net, n)[0]
    assert rec["method"] == "CONNECT"
    assert rec["url"] == "www.allowed.test:443"
    assert rec["mode"] == "transparent"
    assert rec["rule"] == "clients-to-internet"
    assert rec["upstream"] == f"{net.origin_ip}:443"


@pytest.mark.parametrize("name,rule", [
    ("blocked.test", "no-blocked"),
    ("elsewhere.test", "hard:transparent-sni-mismatch"),
])
def test_tls_with_a_refused_sni_is_closed(net, name, rule):
    n = records_so_far(net)
    result = net.curl("-k", "--resolve", f"{name}:443:{net.origin_ip}", f"https://{name}/")
    assert result.returncode != 0, result  # closed during the handshake
    rec = new_records(net, n)[0]
    assert rec["decision"] == "deny"
    assert rec["rule"] == rule
    assert rec["url"] == f"{name}:443"
    assert not [e for e in net.origin_seen() if e.get("scheme") == "https"]


def test_tproxy_keeps_the_destination_and_is_served_the_same_way(net):
    # Port 8080 is not NATed: the tproxy rule hands the connection, still
    # addressed to the origin, to the IP_TRANSPARENT socket. Without that
    # socket the packets would be dropped (this gateway does not forward).
    n = records_so_far(net)
    url = "http://www.allowed.test:8080/tp"
    result = net.curl("--resolve", f"www.allowed.test:8080:{net.origin_ip}", url)
    assert body_and_code(result) == ("http origin says hi /tp\n", 200), result.stderr
    rec = new_records(net, n)[0]
    assert rec["mode"] == "transparent"
    assert rec["url"] == url
    assert rec["upstream"] == f"{net.origin_ip}:8080"
    mismatch = net.curl("-H", "Host: elsewhere.test:8080", f"http://{net.origin_ip}:8080/x")
    assert body_and_code(mismatch)[1] == 409, mismatch
