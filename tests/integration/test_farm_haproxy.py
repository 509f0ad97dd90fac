"""The farm that stores each object once (issue #18 item 2): the shipped
packaging/haproxy/portcullis-farm.cfg, addresses and ports rewritten, runs a
real haproxy in front of three nodes on loopback. Cacheable URLs are hashed
to one node each, CONNECT goes by load, PROXY v2 carries the client, and
/healthz takes a stopping node out before it stops accepting."""
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import SOURCE_DIR, Proxy, base_config, free_port
from origin import Origin

BALANCER = "127.0.0.3"  # haproxy's source address towards the nodes
CLIENTS = ("127.0.0.5", "127.0.0.6")
SHIPPED = os.path.join(SOURCE_DIR, "packaging", "haproxy", "portcullis-farm.cfg")
DRAIN_DELAY = "4s"  # above the shipped "inter 1s fall 2" (+ timeout check), as documented



def node_config(origin_ports, log_dir):
    text = base_config(origin_ports, log_dir=log_dir, extra=f"""
[abuse]
refusals_to_block = 0

[cache]
enabled = true
dir = "{log_dir}/cache"
max_size = "64 MiB"
max_object_size = "32 MiB"
min_free_disk = "0 B"
""")
    text = text.replace('local = ["127.0.0.1/32"]',
                        'local = ["127.0.0.1/32", "%s"]' % '", "'.join(c + "/32" for c in CLIENTS))
    text = text.replace('listen = "127.0.0.1:0"',
                        'listen = "127.0.0.1:0"\nallow = ["127.0.0.1/32", "%s/32"]' % BALANCER)
    return text.replace("workers = 1", f"""workers = 1
proxy_protocol_from = ["{BALANCER}/32"]
drain_delay = "{DRAIN_DELAY}"
max_connections_per_client = 2000""")


def render(nodes, front, sock):
    """The shipped file with only its addresses changed: every other line
    (balance, hash-type, checks, timeouts, retries) is tested as shipped."""
    text = open(SHIPPED).read()

    def sub(pattern, repl, count):
        nonlocal text
        text, n = re.subn(pattern, repl, text, flags=re.M)
        assert n == count, (pattern, n)

    sub(r"^    log /dev/log .*$", "", 1)
    sub(r"^    maxconn 20000$", "    maxconn 1000", 1)  # within this shell's open-files limit
    sub(r"^    stats socket \S+", f"    stats socket {sock}", 1)
    sub(r"^    bind :3128$", f"    bind 127.0.0.1:{front}", 1)
    sub(r" check port 3129 ", " check ", 1)
    for i, n in enumerate(nodes, 1):
        admin_port = int(n.admin.rsplit(":", 1)[1])
        sub(rf"^(    server node{i}) 10\.0\.0\.1{i}:3128 id {i}$",
            rf"\1 127.0.0.1:{n.port} id {i} port {admin_port} source {BALANCER}", 1)
        sub(rf"^(    server node{i}) 10\.0\.0\.1{i}:3128 id {i} track",
            rf"\1 127.0.0.1:{n.port} id {i} source {BALANCER} track", 1)
    return text


class Farm:
    def __init__(self, tmp_path, origin_ports):
        self.nodes = []
        for i in range(3):
            d = tmp_path / ("node%d" % (i + 1))
            d.mkdir()
            self.nodes.append(Proxy(node_config(origin_ports, str(d)), tmpdir=str(d)))
        self.front = free_port()
        self.sock = str(tmp_path / "haproxy.sock")
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(render(self.nodes, self.front, self.sock))
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        assert os.path.exists(haproxy), "haproxy is not installed (packaging/build-deps.sh --test)"
        self.errlog = open(tmp_path / "haproxy.err", "wb")
        self.ha = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                                   stderr=self.errlog)
        self.wait_status({"node1": "UP", "node2": "UP", "node3": "UP"})

    def command(self, line):
        """One runtime API command; its whole answer."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out

    def stat(self, column="status"):
        """backend nodes_http's servers and their `column` (show stat), from the runtime API."""
        out = self.command("show stat")
        rows = [r.split(",") for r in out.decode().splitlines() if r and not r.startswith("#")]
        head = out.decode().splitlines()[0].lstrip("# ").split(",")
        col = head.index(column)
        return {r[1]: r[col] for r in rows if r[0] == "nodes_http" and r[1].startswith("node")}

    def wait_status(self, want, deadline=15.0, while_=None):
        end = time.monotonic() + deadline
        while True:
            try:
                st = self.stat()
                if all(st.get(k, "").startswith(v) for k, v in want.items()):
                    return st
            except OSError:
                st = None
            assert self.ha.poll() is None, "haproxy exited"
            assert while_ is None or while_(), "condition lost while waiting for %r: %r" % (want, st)
            assert time.monotonic() < end, "haproxy never reported %r: %r" % (want, st)
            time.sleep(0.05)  # polling the runtime API with a deadline

    def close(self):
        self.ha.terminate()
        self.ha.wait(10)
        self.errlog.close()
        for n in self.nodes:
            if n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait(10)


@pytest.fixture
def farm_of(tmp_path):
    farms = []

    def make(origin_ports):
        farms.append(Farm(tmp_path, origin_ports))
        return farms[-1]
    yield make
    for f in farms:
        f.close()


retried = []  # requests a client had to send again on a new connection


class Client:
    """One client on one kept-alive connection to the balancer, from `source`."""

    def __init__(self, farm, source):
        self.farm, self.source, self.conn = farm, source, None

    def get(self, url):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.farm.front, timeout=20,
                                                       source_address=(self.source, 0))
            try:
                self.conn.request("GET", url, headers={"Host": url.split("/")[2]})
                r = self.conn.getresponse()
                body = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, body
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The balancer closed a kept-alive connection between two requests
                # (RFC 9112 section 9.3.1 lets a client retry an idempotent request then).
                self.close()
                retried.append(url)
                if attempt == 2:
                    raise

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def urls(origins, n=20):
    return ["http://127.0.0.1:%d/c/f%d?size=1024" % (o.port, i) for o in origins for i in range(n)]


def run_clients(farm, url_list, clients=30, rounds=2, stop=None):
    """`clients` threads, each fetching every URL in its own shuffled order
    `rounds` times (or until `stop` is set); returns the failures."""
    failures, lock = [], threading.Lock()

    def one(k):
        c = Client(farm, CLIENTS[k % len(CLIENTS)])
        rnd = random.Random(k)
        done = 0
        try:
            while (stop is None and done < rounds) or (stop is not None and not stop.is_set()):
                order = list(url_list)
                rnd.shuffle(order)
                for u in order:
                    try:
                        status, body = c.get(u)
                        if status != 200 or len(body) != 1024:
                            with lock:
                                failures.append((u, status, len(body)))
                    except Exception as e:  # noqa: BLE001 - every failure counts
                        with lock:
                            failures.append((u, repr(e)))
                done += 1
        finally:
            c.close()
    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    return threads, failures


def join(threads, deadline=60.0):
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
        assert not t.is_alive(), "a client hung"


def owners(farm):
    """url -> the node numbers that logged it."""
    out = {}
    for i, n in enumerate(farm.nodes, 1):
        path = os.path.join(n.tmp, "access.log")
        if os.path.exists(path) and n.proc.poll() is None:
            for line in n.access_lines(0):
                out.setdefault(line["url"], set()).add(i)
    return out


def logged(farm, n, deadline=10.0):
    """Waits until the nodes' access logs hold n lines in all; returns them."""
    end = time.monotonic() + deadline
    while True:
        lines = [x for node in farm.nodes for x in node.access_lines(0)]
        if len(lines) >= n or time.monotonic() > end:
            assert len(lines) == n
            return lines
        time.sleep(0.05)  # polling the logs with a deadline


def total_fetches(origins, n=20):
    return sum(o.count("/c/f%d" % i) for o in origins for i in range(n))


@pytest.fixture
def origins():
    os_ = [Origin(), Origin()]
    yield os_
    for o in os_:
        o.close()


def test_thirty_clients_fetch_each_url_from_the_origin_once(origins, farm_of):
    farm = farm_of([o.port for o in origins])
    url_list = urls(origins)
    threads, failures = run_clients(farm, url_list)
    join(threads)
    assert failures == []
    # One origin fetch per URL across the farm (collapsed forwarding on the owning
    # node covers the simultaneous ones), though each client kept one connection.
    for o in origins:
        assert all(o.count("/c/f%d" % i) == 1 for i in range(20)), o.httpd.counts
    lines = logged(farm, 30 * 2 * 40)
    owner = owners(farm)
    assert set(owner) == set(url_list)
    assert all(len(v) == 1 for v in owner.values()), owner
    # Every node owns a share; the same path on two sites is not pinned to one node
    # (the whole absolute URL is hashed, not just its path).
    assert {next(iter(v)) for v in owner.values()} == {1, 2, 3}
    a, b = url_list[:20], url_list[20:]
    assert any(owner[x] != owner[y] for x, y in zip(a, b)), owner
    # The nodes' logs name the real client and the balancer.
    assert {x["client"].rsplit(":", 1)[0] for x in lines} == set(CLIENTS)
    assert {x["balancer"].rsplit(":", 1)[0] for x in lines} == {BALANCER}


def test_a_tunnel_goes_through_the_farm(origins, farm_of):
    farm = farm_of([o.port for o in origins])
    with socket.create_connection(("127.0.0.1", farm.front), timeout=10,
                                  source_address=(CLIENTS[0], 0)) as s:
        target = "127.0.0.1:%d" % origins[0].port
        s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 200"), head
        s.sendall(b"GET /c/t?size=1024 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = head.split(b"\r\n\r\n", 1)[1]
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 200") and len(out.split(b"\r\n\r\n", 1)[1]) == 1024, out[:300]
    assert origins[0].count("/c/t") == 1
    line = [x for x in logged(farm, 1) if x.get("method") == "CONNECT"]
    assert len(line) == 1 and line[0]["client"].startswith(CLIENTS[0] + ":")


def test_a_node_stopped_with_sigterm_drains_without_a_failed_request(origins, farm_of):
    farm = farm_of([o.port for o in origins])
    url_list = urls(origins)
    retried.clear()
    stop = threading.Event()
    threads, failures = run_clients(farm, url_list, clients=10, stop=stop)
    try:
        node = farm.nodes[1]
        node.access_lines(1)  # it is serving its share
        node.signal(signal.SIGTERM)
        node.wait_event("stopping")
        # The balancer takes it out while it still accepts ...
        farm.wait_status({"node2": "DOWN"}, while_=lambda: not any(
            e.get("event") == "drained" for e in node.events))
        # ... then it stops accepting, finishes and exits cleanly.
        assert node.proc.wait(20) == 0
        served = len(node.access_lines(0))
        before = sum(len(n.access_lines(0)) for n in farm.nodes if n is not node)
        # The others keep serving the whole set, node2's share included.
        end = time.monotonic() + 20
        while sum(len(n.access_lines(0)) for n in farm.nodes if n is not node) < before + 200:
            assert time.monotonic() < end, "the farm stopped serving"
            time.sleep(0.05)  # polling the logs with a deadline
    finally:
        stop.set()
        join(threads)
    assert failures == [], failures[:5]
    assert retried == []  # not even a kept-alive connection was lost
    assert served > 0


def test_a_killed_node_costs_only_its_share(origins, farm_of):
    farm = farm_of([o.port for o in origins])
    url_list = urls(origins)
    threads, failures = run_clients(farm, url_list, clients=3, rounds=1)
    join(threads)
    assert failures == [] and total_fetches(origins) == len(url_list)
    logged(farm, 3 * len(url_list))
    owner = owners(farm)
    share = {i: [u for u, v in owner.items() if v == {i}] for i in (1, 2, 3)}
    victim = max(share, key=lambda i: len(share[i]))
    farm.nodes[victim - 1].proc.kill()
    farm.nodes[victim - 1].proc.wait(10)
    farm.wait_status({"node%d" % victim: "DOWN"})
    threads, failures = run_clients(farm, url_list, clients=3, rounds=1)
    join(threads)
    assert failures == []
    refetched = total_fetches(origins) - len(url_list)
    # Only the dead node's URLs moved (consistent hashing): each fetched once more.
    assert refetched == len(share[victim]), (refetched, len(share[victim]))
    assert 1 <= refetched < 0.6 * len(url_list)


def test_requests_meeting_a_killed_node_are_redispatched_before_haproxy_notices(origins, farm_of):
    farm = farm_of([o.port for o in origins])
    # The health check of node1 is stopped first, so only "retries" and "option
    # redispatch" can route around the dead node: with checks on, "inter 1s fall
    # 2" races the 40 requests, and on a loaded machine the check won sometimes.
    assert farm.command("disable health nodes_http/node1").strip() == b""
    farm.nodes[0].proc.kill()
    farm.nodes[0].proc.wait(10)
    retried.clear()
    c = Client(farm, CLIENTS[0])
    try:
        # About a third of these hash to the dead node: "retries 2" and "option
        # redispatch 1" send them to another node.
        assert [c.get(u)[0] for u in urls(origins)] == [200] * 40
    finally:
        c.close()
    assert retried == []  # HAProxy's doing, not a client retry
    # HAProxy never took the node out: the requests that met it were redispatched.
    assert not farm.stat()["node1"].startswith("DOWN"), farm.stat()
    assert int(farm.stat("wredis")["node1"]) > 0, farm.stat("wredis")
