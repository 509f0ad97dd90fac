"""Safe rule changes end to end: real traffic through the daemon makes an
access log; `portcullis explain --replay LOG -c CANDIDATE` reports which
decisions the candidate would change, with line numbers; a `mode = "log"`
rule in a running daemon blocks nothing and the log says what it would do.
"""
import json
import os
import subprocess

from harness import BIN, Proxy, curl
from origin import Origin

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
workers = 1

[log]
access = "{access}"
events = "-"

[admin]
listen = ""

[sources]
local = ["127.0.0.1/32"]

[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{ports}] }}
by-name = {{ hosts = ["localhost"] }}

[[rule]]
name = "watch-localhost"
mode = "{mode}"
deny = {{ to = "by-name" }}

[[rule]]
name = "local-to-origin"
allow = {{ from = "local", to = "origin" }}
"""


def fetch(proxy, url):
    r = curl(["-x", proxy.url, "-s", "-o", "/dev/null", "-w", "%{http_code}", url])
    return int(r.stdout or b"0")


def replay(*args):
    return subprocess.run([BIN, "explain"] + list(args), capture_output=True, text=True,
                          timeout=60)


def test_log_mode_rule_and_replay_of_real_traffic(tmp_path):
    origin, other = Origin(), Origin()
    access = str(tmp_path / "access.log")
    current = CONFIG.format(access=access, ports=origin.port, mode="log")
    proxy = Proxy(current, tmpdir=str(tmp_path))
    try:
        # 1: a name (resolved through /etc/hosts), matched by the log-mode rule.
        assert fetch(proxy, "http://localhost:%d/a" % origin.port) == 200
        # 2: the same origin by address: no log-mode match.
        assert fetch(proxy, origin.url("/b")) == 200
        # 3: another port: denied today.
        assert fetch(proxy, other.url("/c")) == 403
        lines = proxy.access_lines(3)
    finally:
        proxy.finish()
    assert lines[0]["decision"] == "allow" and lines[0]["would_deny"] == "watch-localhost"
    assert lines[0]["addresses"] == ["127.0.0.1"]
    assert "would_deny" not in lines[1] and lines[1]["addresses"] == ["127.0.0.1"]
    assert lines[2]["decision"] == "deny" and lines[2]["rule"] == "default-deny"

    # The candidate enforces the watched rule and opens the other port.
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(CONFIG.format(access=access, ports="%d, %d" % (origin.port, other.port),
                                       mode="enforce"))
    current_path = tmp_path / "portcullis.toml"
    with open(access, "a") as f:
        f.write('{"ts": "broken\n')  # line 4: a crash's half line is counted, not fatal
    r = replay("--replay", access, "-c", str(candidate))
    assert r.returncode == 1, r.stdout + r.stderr  # 1: some decision changes
    out = r.stdout
    assert "compared: 3;" in out, out
    assert "allow -> deny: 1" in out and "deny -> allow: 1" in out, out
    assert "same verdict, another rule: 0" in out, out
    assert "1  local-to-origin -> watch-localhost" in out, out
    assert "e.g. line 1: 127.0.0.1 - GET http://localhost:%d/a" % origin.port in out, out
    assert "1  default-deny -> local-to-origin" in out, out
    assert "e.g. line 3:" in out, out
    assert "malformed lines: 1" in out and "line 4:" in out, out
    assert "no name was resolved" in out

    # Two configs compared on the same requests: the same changes.
    r = replay("--replay", access, "-c", str(candidate), "--current", str(current_path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "baseline: the rules of %s" % current_path in r.stdout
    assert "allow -> deny: 1" in r.stdout and "deny -> allow: 1" in r.stdout, r.stdout

    # The running config against itself: nothing changes, the log-mode rule is reported.
    r = replay("--replay", access, "-c", str(current_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "changed: 0 of 3" in r.stdout, r.stdout
    assert "watch-localhost: would deny 1 request(s), first at line 1" in r.stdout, r.stdout

    # explain of one request shows the log-mode match; validate notes the rule.
    r = replay("-c", str(current_path), "--from", "127.0.0.1", "--to",
               "http://localhost:%d/" % origin.port, "--resolve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "log-mode rule watch-localhost" in r.stdout and "would deny" in r.stdout, r.stdout
    v = subprocess.run([BIN, "validate", "-c", str(current_path)], capture_output=True,
                       text=True, timeout=60)
    assert v.returncode == 0 and "log mode" in v.stderr, v.stdout + v.stderr


def test_replay_refuses_bad_arguments(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(access="", ports=80, mode="bogus"))
    r = replay("--replay", os.devnull, "-c", str(cfg))
    assert r.returncode == 2 and "'mode' must be \"enforce\" or \"log\"" in r.stderr, r.stderr
    cfg.write_text(CONFIG.format(access="", ports=80, mode="log"))
    r = replay("--replay", str(tmp_path / "missing.log"), "-c", str(cfg))
    assert r.returncode == 2 and "cannot read the access log" in r.stderr
    r = replay("-c", str(cfg))
    assert r.returncode == 2 and "--replay" in r.stderr
