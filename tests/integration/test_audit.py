"""`portcullis audit`: an open tinyproxy must be reported open (exit 1), and
Portcullis with every shipped config must be reported closed (exit 0).

Everything listens on 127.0.0.1. The audit's 169.254.169.254 probe is
skipped (--skip-metadata): it is the one probe whose target is off this
machine, and tests reach nothing but loopback.
"""
import glob
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from harness import BIN, SOURCE_DIR, Proxy, free_port

AUDIT_DEADLINE = 120  # seconds; the audit bounds itself far below this



def run_audit(port, *extra):
    return subprocess.run(
        [BIN, "audit", "--proxy", "127.0.0.1:%d" % port, "--skip-metadata", "--timeout", "5s"]
        + list(extra),
        capture_output=True, timeout=AUDIT_DEADLINE,
    )


def probes_by_name(stdout):
    doc = json.loads(stdout)
    return doc, {p["name"]: p for p in doc["probes"]}


class TinyProxy:
    """An intentionally open tinyproxy (any port, any destination) on loopback."""

    def __init__(self, tmp):
        self.port = free_port()
        self.conf = os.path.join(tmp, "tinyproxy.conf")
        with open(self.conf, "w") as f:
            # No ConnectPort lines: CONNECT to any port. No filters. Open.
            f.write("Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 10\n"
                    "MaxClients 50\nLogLevel Info\n" % self.port)
        self.proc = subprocess.Popen(["tinyproxy", "-d", "-c", self.conf],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait_ready(15.0)

    def _wait_ready(self, deadline):
        # tinyproxy logs this line once its listening socket is open.
        end = time.monotonic() + deadline
        buf = b""
        while b"Accepting connections" not in buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("tinyproxy not ready: %r" % buf[-500:])
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("tinyproxy exited: %r" % buf[-500:])
                buf += chunk

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture
def tinyproxy(tmp_path):
    if shutil.which("tinyproxy") is None:
        pytest.skip("tinyproxy is not installed (packaging/build-deps.sh --test installs it)")
    tp = TinyProxy(str(tmp_path))
    yield tp
    tp.stop()


def test_open_tinyproxy_is_reported_open(tinyproxy):
    proc = run_audit(tinyproxy.port, "--json")
    assert proc.returncode == 1, proc.stderr
    doc, probes = probes_by_name(proc.stdout)
    assert doc["proxy"] == "127.0.0.1:%d" % tinyproxy.port
    assert doc["open"] is True
    assert "get-metadata" not in probes
    for name in ("connect-smtp-canary", "post-smtp-canary", "connect-http-canary",
                 "get-loopback-ip"):
        assert probes[name]["verdict"] == "relayed", probes[name]
        assert "canary saw" in probes[name]["evidence"], probes[name]
    assert "MAIL FROM" in probes["post-smtp-canary"]["evidence"]
    assert "220 canary ESMTP" in probes["connect-smtp-canary"]["evidence"]
    # Nothing listens on port 25 here: tinyproxy fails to connect and says so.
    assert probes["connect-port-25"]["verdict"] == "refused"


def test_table_output_summarises(tinyproxy):
    proc = run_audit(tinyproxy.port)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert re.match(r"OPEN: \d+ probes relayed", lines[-1]), lines[-1]
    assert any(l.startswith("post-smtp-canary") and " relayed " in l for l in lines)


def test_usage_and_connect_errors_exit_2():
    assert subprocess.run([BIN, "audit", "--proxy", "nonsense"], capture_output=True,
                          timeout=30).returncode == 2
    assert subprocess.run([BIN, "audit", "--proxy", "127.0.0.1:3128", "--timeout", "forever"],
                          capture_output=True, timeout=30).returncode == 2
    # A port nobody listens on: connection refused at once.
    proc = subprocess.run([BIN, "audit", "--proxy", "127.0.0.1:%d" % free_port()],
                          capture_output=True, timeout=30)
    assert proc.returncode == 2
    assert b"cannot connect" in proc.stderr


# --- Portcullis itself, with every shipped configuration -------------------

CONFIGS = sorted([os.path.join(SOURCE_DIR, "etc", "portcullis.toml")]
                 + glob.glob(os.path.join(SOURCE_DIR, "etc", "examples", "*.toml")))

_SECTION = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=")
_FILE_VALUE = re.compile(r'\b((?:hosts_)?file)(\s*=\s*)"([^"]*)"')


def local_copy(config_path, tmp):
    """The shipped config, made safe to run here: listens on 127.0.0.1:0,
    admin off, logs and cache in `tmp`, no privilege drop, DNS only to a
    loopback port where nothing answers, relative list files made absolute."""
    base = os.path.dirname(os.path.abspath(config_path))
    replace = {
        ("server", "listen"): 'listen = ["127.0.0.1:0"]',
        ("server", "user"): "",
        ("cache", "dir"): 'dir = "%s"' % os.path.join(tmp, "cache"),
        ("log", "access"): 'access = "%s"' % os.path.join(tmp, "access.log"),
        ("log", "events"): 'events = "-"',
        ("admin", "listen"): 'listen = ""',
        ("dns", "nameservers"): 'nameservers = ["127.0.0.1:9"]',
    }
    out, section, skipping, has_dns = [], "", False, False
    with open(config_path) as f:
        lines = f.read().splitlines()
    for line in lines:
        if skipping:  # the rest of a multi-line array being replaced
            skipping = "]" not in line
            continue
        m = _SECTION.match(line)
        if m:
            section = m.group(1)
            has_dns |= section == "dns"
        k = _KEY.match(line)
        if k and (section, k.group(1)) in replace:
            out.append(replace[(section, k.group(1))])
            value = line.split("=", 1)[1]
            skipping = "[" in value and "]" not in value
            continue

        def absolute(fm):
            path = fm.group(3)
            if not os.path.isabs(path):
                path = os.path.join(base, path)
            return '%s%s"%s"' % (fm.group(1), fm.group(2), path)

        out.append(_FILE_VALUE.sub(absolute, line))
    if not has_dns:
        out.append('\n[dns]\nnameservers = ["127.0.0.1:9"]')
    os.makedirs(os.path.join(tmp, "cache"), exist_ok=True)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("config", CONFIGS, ids=[os.path.relpath(c, SOURCE_DIR) for c in CONFIGS])
def test_portcullis_is_closed(config, tmp_path):
    text = local_copy(config, str(tmp_path))
    proxy = Proxy(text, tmpdir=str(tmp_path))
    try:
        proc = run_audit(proxy.port, "--json")
        doc, probes = probes_by_name(proc.stdout)
        relayed = [p for p in doc["probes"] if p["verdict"] == "relayed"]
        assert proc.returncode == 0, (relayed, proc.stderr)
        assert doc["open"] is False
        assert not relayed
    finally:
        assert proxy.stop() == 0


def test_portcullis_hard_rules_hold_when_rules_allow_everything(tmp_path):
    """Even a config that lets 127.0.0.1 reach any host on any port must not
    relay to loopback, port 25 or itself: those are hard rules."""
    text = """
[server]
listen = ["127.0.0.1:0"]
workers = 1

[log]
events = "-"

[dns]
nameservers = ["127.0.0.1:9"]

[sources]
local = ["127.0.0.1/32"]

[destinations]
anything = { hosts = ["*"] }

[[rule]]
name = "local-anything"
allow = { from = "local", to = "anything" }
"""
    proxy = Proxy(text, tmpdir=str(tmp_path))
    try:
        proc = run_audit(proxy.port, "--json")
        doc, _ = probes_by_name(proc.stdout)
        relayed = [p for p in doc["probes"] if p["verdict"] == "relayed"]
        assert proc.returncode == 0, (relayed, proc.stderr)
    finally:
        assert proxy.stop() == 0


# Loopback opened on purpose, by an explicit CIDR and every port.
LOOPBACK_OPEN = """
[server]
listen = ["127.0.0.1:0"]
workers = 1

[log]
events = "-"

[dns]
nameservers = ["127.0.0.1:9"]

[sources]
local = ["127.0.0.1/32"]

[destinations]
loopback = { cidrs = ["127.0.0.0/8"], ports = ["1-65535"] }

[[rule]]
name = "local-loopback"
allow = { from = "local", to = "loopback" }
"""


@pytest.fixture
def loopback_open_audit(tmp_path):
    proxy = Proxy(LOOPBACK_OPEN, tmpdir=str(tmp_path))
    try:
        proc = run_audit(proxy.port, "--json")
        doc, probes = probes_by_name(proc.stdout)
        yield proc, probes
    finally:
        assert proxy.stop() == 0


def test_portcullis_opened_to_loopback_is_caught(loopback_open_audit):
    """The positive control for the "closed" tests above: Portcullis whose
    rules deliberately open loopback must be reported open, so "closed"
    means something. Port 25 stays refused: a hard rule."""
    proc, probes = loopback_open_audit
    assert proc.returncode == 1, (probes, proc.stderr)
    for name in ("get-loopback-ip", "post-smtp-canary", "http10"):
        assert probes[name]["verdict"] == "relayed", probes[name]
    for name in ("connect-port-25", "post-port-25"):
        assert probes[name]["verdict"] == "refused", probes[name]


def test_portcullis_never_tunnels_to_itself(loopback_open_audit):
    """[server] listen addresses are never a valid destination (config
    reference), even when a rule opens their range: a CONNECT loop."""
    _, probes = loopback_open_audit
    assert probes["connect-self"]["verdict"] == "refused", probes["connect-self"]
