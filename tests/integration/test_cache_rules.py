"""Refresh rules ([[cache.refresh]]) and cache identities ([[cache.alias]])
end to end: the real binary, a real origin that sends no caching headers
(like Debian's mirror here), curl as the client."""
import email.utils
import hashlib
import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from harness import BIN, Proxy, ScriptedNameserver, curl
from origin import body_of_size


class BareHandler(BaseHTTPRequestHandler):
    """Sends a body and nothing a cache could use: no Cache-Control,
    Expires, Last-Modified, ETag, not even Date. The query adds fields
    relative to now: date=-7200 (Date two hours ago), lm=-864000
    (Last-Modified ten days ago, answering If-Modified-Since with 304),
    cc=... (Cache-Control)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        with self.server.lock:
            self.server.seen.append((self.headers.get("Host"), url.path, dict(self.headers.items())))
        now = time.time()
        fields = []
        if "date" in q:
            fields.append(("Date", email.utils.formatdate(now + int(q["date"][0]), usegmt=True)))
        if "lm" in q:
            lm = email.utils.formatdate(now + int(q["lm"][0]), usegmt=True)
            self.server.lm[url.path] = self.server.lm.get(url.path, lm)
            fields.append(("Last-Modified", self.server.lm[url.path]))
            if self.headers.get("If-Modified-Since") == self.server.lm[url.path]:
                self.send_response_only(304)
                for k, v in fields:
                    self.send_header(k, v)
                self.end_headers()
                return
        if "cc" in q:
            fields.append(("Cache-Control", q["cc"][0]))
        body = body_of_size(3000, seed=url.path.encode())
        if self.server.root is not None:  # a mirror-like tree of files
            path = os.path.join(self.server.root, url.path.lstrip("/"))
            if ".." in url.path or not os.path.isfile(path):
                self.send_response_only(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(path, "rb") as f:
                body = f.read()
        self.send_response_only(200)
        for k, v in fields:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class BareOrigin:
    def __init__(self, root=None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), BareHandler)
        self.httpd.root = root
        self.httpd.daemon_threads = True
        self.httpd.seen = []
        self.httpd.lm = {}
        self.httpd.lock = threading.Lock()
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def seen(self, path):
        with self.httpd.lock:
            return [s for s in self.httpd.seen if s[1] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def bare():
    o = BareOrigin()
    yield o
    o.close()


@pytest.fixture
def nameserver():
    ns = ScriptedNameserver()
    yield ns
    ns.close()


def config(tmp_path, port, cache_rules="", dns_port=None, rules=None):
    """The cache on, 127.0.0.1 allowed to loopback `port`; names resolve
    through the scripted nameserver when `dns_port` is given."""
    dns = ""
    if dns_port:
        dns = '[dns]\nnameservers = ["127.0.0.1:%d"]\nhosts_file = false\n' % dns_port
    rules = rules or '[[rule]]\nname = "local-to-origin"\nallow = { from = "local", to = "origin" }\n'
    return f"""
[server]
listen = ["127.0.0.1:0"]
workers = 1

[log]
access = "{tmp_path}/access.log"
events = "-"

[admin]
listen = "127.0.0.1:0"

{dns}
[cache]
enabled = true
dir = "{tmp_path}/cache"
max_size = "64 MiB"
min_free_disk = "0 B"
{cache_rules}

[sources]
local = ["127.0.0.1/32"]

[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{port}] }}

{rules}
"""


def fetch(proxy, url):
    r = curl(["-x", proxy.url, "-D", "-", url])
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def results(proxy, n):
    return [line["cache"] for line in proxy.access_lines(n)]


POOL_RULE = """
[[cache.refresh]]
hosts = ["127.0.0.1"]
path = "/debian/pool/*"
min = "1h"
max = "2d"
percent = 20
"""


@pytest.mark.parametrize("rule", [False, True], ids=["no-rule", "pool-rule"])
def test_no_caching_headers_hit_only_with_a_rule(bare, tmp_path, rule):
    p = Proxy(config(tmp_path, bare.port, POOL_RULE if rule else ""), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/debian/pool/main/a/apt/apt_2.6.1_amd64.deb" % bare.port
        s1, b1 = fetch(p, url)
        s2, b2 = fetch(p, url)
        assert s1 == s2 == 200
        assert b1 == b2 == body_of_size(3000, seed=b"/debian/pool/main/a/apt/apt_2.6.1_amd64.deb")
        seen = bare.seen("/debian/pool/main/a/apt/apt_2.6.1_amd64.deb")
        if rule:
            assert len(seen) == 1
            assert results(p, 2) == ["MISS", "HIT"]
        else:
            assert len(seen) == 2
            assert results(p, 2)[1] != "HIT"
        # Outside the rule's path: no heuristic, no hit.
        index = "http://127.0.0.1:%d/debian/dists/bookworm/InRelease" % bare.port
        fetch(p, index)
        fetch(p, index)
        assert len(bare.seen("/debian/dists/bookworm/InRelease")) == 2
    finally:
        p.stop()


@pytest.mark.parametrize("query,fresh", [
    # No Last-Modified: fresh for min (1h). Date 30 minutes old: still fresh.
    ("date=-1800", True),
    # ...Date two hours old: older than min, refetched.
    ("date=-7200", False),
    # Last-Modified 30 days before Date: 20 % = 6 days, capped at max (2 days;
    # the built-in heuristic would give 1 day). Date 36 hours old: fresh;
    # 50 hours old: past max, revalidated.
    ("date=-129600&lm=-2721600", True),
    ("date=-180000&lm=-2772000", False),
], ids=["within-min", "past-min", "within-max", "past-max"])
def test_rule_lifetime_min_percent_max(bare, tmp_path, query, fresh):
    p = Proxy(config(tmp_path, bare.port, POOL_RULE), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/debian/pool/x.deb?%s" % (bare.port, query)
        assert fetch(p, url)[0] == 200
        status, body = fetch(p, url)
        assert status == 200 and body == body_of_size(3000, seed=b"/debian/pool/x.deb")
        seen = bare.seen("/debian/pool/x.deb")
        if fresh:
            assert len(seen) == 1
            assert results(p, 2) == ["MISS", "HIT"]
        else:
            assert len(seen) == 2
            assert results(p, 2)[1] != "HIT"
            if "lm=" in query:
                # Past max with a validator: a conditional request, answered 304.
                assert "If-Modified-Since" in seen[1][2]
                assert results(p, 2)[1] == "REVALIDATED"
    finally:
        p.stop()


@pytest.mark.parametrize("cc", ["max-age=0", "no-store", "private", "no-cache"])
def test_explicit_cache_control_wins_over_a_rule(bare, tmp_path, cc):
    p = Proxy(config(tmp_path, bare.port, POOL_RULE), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/debian/pool/cc.deb?cc=%s" % (bare.port, cc)
        fetch(p, url)
        fetch(p, url)
        assert len(bare.seen("/debian/pool/cc.deb")) == 2
        assert results(p, 2)[1] != "HIT"
    finally:
        p.stop()


ALIAS = """
[[cache.alias]]
hosts = ["*.cdn-a.test", "mirror.cdn-b.test"]
identity = "depot"
"""


@pytest.mark.parametrize("alias", [False, True], ids=["no-alias", "alias"])
def test_aliased_hosts_share_one_object(origin, nameserver, tmp_path, alias):
    p = Proxy(config(tmp_path, origin.port, ALIAS if alias else "", dns_port=nameserver.port),
              tmpdir=str(tmp_path))
    try:
        first = "http://edge1.cdn-a.test:%d/c/depot/7/chunk/ab?size=5000" % origin.port
        second = "http://mirror.cdn-b.test:%d/c/depot/7/chunk/ab?size=5000" % origin.port
        s1, b1 = fetch(p, first)
        s2, b2 = fetch(p, second)
        assert s1 == s2 == 200
        assert b1 == b2 == body_of_size(5000, seed=b"/c/depot/7/chunk/ab")
        if alias:
            assert origin.count("/c/depot/7/chunk/ab") == 1
            assert results(p, 2) == ["MISS", "HIT"]
        else:
            assert origin.count("/c/depot/7/chunk/ab") == 2
            assert results(p, 2) == ["MISS", "MISS"]
        # Each line names the real host the client asked for.
        urls = [line["url"] for line in p.access_lines(2)]
        assert urls == [first, second]
    finally:
        p.stop()


def test_alias_never_bypasses_access_control(origin, nameserver, tmp_path):
    """The stored object is shared, the rules are not: a host the client may
    not reach is refused even when its identity has a fresh copy."""
    rules = ('[destinations.blocked]\nhosts = ["blocked.cdn-a.test"]\n\n'
             '[[rule]]\nname = "no-blocked"\ndeny = { to = "blocked" }\n\n'
             '[[rule]]\nname = "local-to-origin"\nallow = { from = "local", to = "origin" }\n')
    p = Proxy(config(tmp_path, origin.port, ALIAS, dns_port=nameserver.port, rules=rules),
              tmpdir=str(tmp_path))
    try:
        ok = "http://edge1.cdn-a.test:%d/c/depot/8?size=100" % origin.port
        denied = "http://blocked.cdn-a.test:%d/c/depot/8?size=100" % origin.port
        assert fetch(p, ok)[0] == 200
        assert fetch(p, denied)[0] == 403
        assert origin.count("/c/depot/8") == 1
        lines = p.access_lines(2)
        assert lines[1]["status"] == 403 and lines[1]["rule"] == "no-blocked"
    finally:
        p.stop()


def test_purge_by_any_real_url_removes_the_aliased_object(origin, nameserver, tmp_path):
    """`portcullis cache purge` with a real URL (any host of the alias) removes
    the object stored under the identity, through the daemon and offline."""
    sock = tmp_path / "admin.sock"
    text = config(tmp_path, origin.port, ALIAS, dns_port=nameserver.port)
    text = text.replace('[admin]\nlisten = "127.0.0.1:0"', f'[admin]\nlisten = "unix:{sock}"', 1)
    p = Proxy(text, tmpdir=str(tmp_path))
    stored = "http://edge1.cdn-a.test:%d/c/depot/9?size=700" % origin.port
    other = "http://mirror.cdn-b.test:%d/c/depot/9?size=700" % origin.port
    offline = "http://edge2.cdn-a.test:%d/c/depot/10?size=700" % origin.port
    try:
        assert fetch(p, stored)[0] == 200
        assert fetch(p, other)[0] == 200
        assert results(p, 2) == ["MISS", "HIT"]
        r = subprocess.run([BIN, "cache", "purge", "-c", p.config_path, other],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "purged 1 object(s)"
        assert fetch(p, stored)[0] == 200
        assert results(p, 3)[2] == "MISS"
        assert fetch(p, offline)[0] == 200
    finally:
        assert p.stop() == 0
    r = subprocess.run([BIN, "cache", "purge", "-c", p.config_path,
                        "http://mirror.cdn-b.test:%d/c/depot/10?size=700" % origin.port],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("purged 1 object(s) (daemon not running")


def test_explain_prints_the_cache_key(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(config(tmp_path, 8080, ALIAS + POOL_RULE))
    proc = subprocess.run([BIN, "explain", "-c", str(path), "--from", "127.0.0.1",
                           "--to", "http://x.cdn-a.test:8080/depot/1"],
                          capture_output=True, timeout=30)
    out = proc.stdout.decode()
    assert "cache key: http://depot.cache-alias.invalid:8080/depot/1 (identity 'depot', %s:" % path in out


# ------------------------------------------------------------------ apt through the proxy


def make_mirror(root):
    """A flat Debian repository like the mirror here: one package, an
    index, a Release file; served with no caching headers at all."""
    pkg = root / "build" / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "usr/share/doc/pc-hello").mkdir(parents=True)
    (pkg / "DEBIAN/control").write_text(
        "Package: pc-hello\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: Test <t@example.org>\nDescription: test package\n")
    (pkg / "usr/share/doc/pc-hello/README").write_bytes(os.urandom(4000))
    archive = root / "www" / "debian"
    deb = archive / "pool/main/p/pc-hello/pc-hello_1.0_all.deb"
    deb.parent.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(pkg), str(deb)],
                   check=True, capture_output=True)
    packages = subprocess.run(["dpkg-scanpackages", "pool", "/dev/null"], cwd=archive,
                              check=True, capture_output=True).stdout
    (archive / "Packages").write_bytes(packages)
    (archive / "Release").write_text(
        "Origin: test\nLabel: test\nSuite: stable\nCodename: test\n"
        "Date: %s\nSHA256:\n %s %d Packages\n" % (
            email.utils.formatdate(usegmt=True), hashlib.sha256(packages).hexdigest(),
            len(packages)))
    return root / "www", deb.read_bytes()


def apt_get(work, proxy_port, origin_port, *args):
    work.mkdir(exist_ok=True)
    sources = work / "sources.list"
    sources.write_text("deb [trusted=yes] http://127.0.0.1:%d/debian ./\n" % origin_port)
    for d in ["state/lists/partial", "cache/archives/partial"]:
        (work / d).mkdir(parents=True, exist_ok=True)
    (work / "status").touch()
    opts = ["-o", "Dir::Etc::SourceList=%s" % sources, "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State=%s" % (work / "state"), "-o", "Dir::Cache=%s" % (work / "cache"),
            "-o", "Dir::State::status=%s" % (work / "status"),
            "-o", "Acquire::http::Proxy=http://127.0.0.1:%d" % proxy_port,
            "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root", "-q"]
    return subprocess.run(["apt-get"] + opts + list(args), cwd=work, capture_output=True,
                          timeout=120)


DEB = "/debian/pool/main/p/pc-hello/pc-hello_1.0_all.deb"


def deb_results(proxy, deadline=10.0):
    """The cache results of the two .deb downloads, once both are logged."""
    end = time.monotonic() + deadline
    while True:
        debs = [line["cache"] for line in proxy.access_lines(1) if line["url"].endswith(DEB)]
        if len(debs) >= 2 or time.monotonic() > end:
            return debs
        time.sleep(0.05)  # polling the log file with a deadline


@pytest.mark.skipif(shutil.which("apt-get") is None or shutil.which("dpkg-scanpackages") is None
                    or os.geteuid() != 0, reason="needs apt-get, dpkg-dev and root (apt's sandbox)")
@pytest.mark.parametrize("rule", [False, True], ids=["no-rule", "pool-rule"])
def test_apt_get_download_twice(tmp_path, rule):
    www, deb_bytes = make_mirror(tmp_path)
    mirror = BareOrigin(root=str(www))
    pool = '[[cache.refresh]]\nhosts = ["127.0.0.1"]\npath = "/debian/pool/*"\nmin = "30d"\nmax = "365d"\n'
    p = Proxy(config(tmp_path, mirror.port, pool if rule else ""), tmpdir=str(tmp_path))
    try:
        work = tmp_path / "apt"
        r = apt_get(work, p.port, mirror.port, "update")
        assert r.returncode == 0, r.stdout + r.stderr
        for attempt in ["first", "second"]:
            into = work / attempt
            into.mkdir()
            r = apt_get(work, p.port, mirror.port, "download", "pc-hello")
            assert r.returncode == 0, r.stdout + r.stderr
            got = work / "pc-hello_1.0_all.deb"
            assert got.read_bytes() == deb_bytes
            got.rename(into / got.name)
        fetched = len(mirror.seen(DEB))
        debs = deb_results(p)
        if rule:
            assert fetched == 1
            assert debs == ["MISS", "HIT"]
        else:
            assert fetched == 2
            assert debs[0] == "MISS" and debs[1] != "HIT"
    finally:
        p.stop()
        mirror.close()
