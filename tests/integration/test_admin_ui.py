"""What a school admin tripped over (issue #13, items 7-9), against the real
binary: the block page a pupil sees (and the admin's own template), `portcullis
status -c FILE`, and the status page's denials, failed reload, cache use and
abuse-guard blocks with their unblock, rendered in headless Chromium."""
import json
import os
import re
import signal
import subprocess

import pytest

from harness import BIN, Proxy, base_config, free_port, raw_exchange, status_of
from test_observability import admin_get, chromium, console_problems, poll, status_json


def get(port, url):
    return raw_exchange(port, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % url).encode())


DENY_RULES = """
[destinations.games]
hosts = ["games.example"]

[destinations.ads]
hosts = ["ads.example"]

[[rule]]
name = "no-games"
deny = { to = "games" }

[[rule]]
name = "no-ads"
deny = { to = "ads" }
"""


def deny_config(origin, tmp_path, extra=""):
    # The deny rules go before the allow rule: first match wins.
    text = base_config([origin.port], log_dir=str(tmp_path))
    head, rules = text.split("[[rule]]", 1)
    return head + DENY_RULES + "\n[[rule]]" + rules + extra


# ---------------------------------------------------------------- item 7: error pages

TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{organisation}}: {{title}}</title>
<style>h1{color:#b91c1c}</style></head>
<body><h1 id="t">{{title}}</h1><p id="m">{{message}}</p>
{{#rule}}<p id="r">Blocked by {{rule}}</p>{{/rule}}
<p id="c">{{contact}}</p><p id="s">{{status}} {{reason}} via {{proxy}}</p></body></html>
"""


@pytest.fixture
def pages_proxy(origin, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "error.html").write_text(TEMPLATE)
    text = deny_config(origin, tmp_path).replace(
        "workers = 1\n",
        'workers = 1\nerror_pages = "pages"\norganisation = "St <Mary>\'s"\n'
        'error_contact = "Ask the IT office & room 12"\n', 1)
    p = Proxy(text, tmpdir=str(tmp_path))
    yield p
    p.stop()


def test_block_page_names_the_rule_but_not_the_config(origin, tmp_path):
    p = Proxy(deny_config(origin, tmp_path), tmpdir=str(tmp_path))
    try:
        out = get(p.port, "http://games.example/play")
        head, body = out.split(b"\r\n\r\n", 1)
        assert status_of(out) == 403
        assert b"<code>no-games</code>" in body
        assert p.config_path.encode() not in out and b".toml" not in out
        assert body.count(b"no-games") == 1
        assert body.count(b"do not allow this request") == 1
        assert b"Content-Security-Policy: default-src 'none'" in head
        # The file:line is still in the access log for the admin.
        line = poll("access line", lambda: [l for l in p.access_lines(1) if l["url"] == "http://games.example/play"])
        assert line[0]["rule_where"].startswith(p.config_path + ":")
    finally:
        p.stop()


def test_custom_template_is_used_and_escaped(pages_proxy):
    out = get(pages_proxy.port, "http://ads.example/banner")
    assert status_of(out) == 403
    body = out.split(b"\r\n\r\n", 1)[1].decode()
    assert "<title>St &lt;Mary&gt;&#39;s: Access denied</title>" in body
    assert '<p id="r">Blocked by no-ads</p>' in body
    assert '<p id="c">Ask the IT office &amp; room 12</p>' in body
    assert '<p id="s">403 Forbidden via portcullis</p>' in body
    assert ".toml" not in body
    # Any other error (here a malformed request) uses the same template, without a rule.
    out = raw_exchange(pages_proxy.port, b"GET http://x/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
    assert 400 <= status_of(out) < 500
    body = out.split(b"\r\n\r\n", 1)[1].decode()
    assert 'id="r"' not in body and '<p id="c">Ask the IT office &amp; room 12</p>' in body
    assert '<p id="s">%d ' % status_of(out) in body


def test_bad_template_is_a_config_error_with_file_and_line(origin, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "error.html").write_text("<p>\n  {{school}}</p>\n")
    text = deny_config(origin, tmp_path).replace("workers = 1\n", 'workers = 1\nerror_pages = "pages"\n', 1)
    cfg = tmp_path / "portcullis.toml"
    cfg.write_text(text)
    r = subprocess.run([BIN, "validate", "-c", str(cfg)], capture_output=True, timeout=30)
    assert r.returncode != 0
    assert "%s:2:3: error: unknown placeholder {{school}}" % (pages / "error.html") in r.stderr.decode()
    (pages / "error.html").unlink()
    r = subprocess.run([BIN, "validate", "-c", str(cfg)], capture_output=True, timeout=30)
    assert r.returncode != 0
    assert re.search(r"portcullis\.toml:\d+:\d+: error: 'error_pages': cannot read '.*error\.html'",
                     r.stderr.decode()), r.stderr


def test_bad_template_on_reload_keeps_the_old_page(pages_proxy):
    with open(os.path.join(pages_proxy.tmp, "pages", "error.html"), "w") as f:
        f.write("{{#rule}}")
    seen = len(pages_proxy.events)
    pages_proxy.signal(signal.SIGHUP)
    failed = pages_proxy.wait_event("reload_failed", seen=seen)
    assert "{{#rule}} is never closed" in failed["diagnostics"]
    out = get(pages_proxy.port, "http://ads.example/")
    assert status_of(out) == 403 and b"Blocked by no-ads" in out


def test_block_pages_render_in_chromium(origin, tmp_path, pages_proxy):
    (tmp_path / "plain").mkdir()
    plain = Proxy(deny_config(origin, tmp_path / "plain"), tmpdir=str(tmp_path / "plain"))
    try:
        for proxy, expect in ((plain, ["<h1>Access denied</h1>", "<code>no-games</code>"]),
                              (pages_proxy, ['<h1 id="t">Access denied</h1>', "Blocked by no-games",
                                             "Ask the IT office &amp; room 12"])):
            r = chromium(tmp_path, ["--dump-dom", "--proxy-server=http://127.0.0.1:%d" % proxy.port],
                         "http://games.example/play")
            dom = r.stdout.decode()
            for e in expect:
                assert e in dom, dom[:2000]
            assert ".toml" not in dom
            assert console_problems(r.stderr) == []
    finally:
        plain.stop()


# ---------------------------------------------------------------- item 8: status -c

def status_cli(args, deadline=30):
    return subprocess.run([BIN, "status"] + args, capture_output=True, timeout=deadline)


def test_status_reads_the_admin_address_from_the_config(origin, tmp_path):
    port = free_port()
    text = deny_config(origin, tmp_path).replace('[admin]\nlisten = "127.0.0.1:0"',
                                                 '[admin]\nlisten = "127.0.0.1:%d"' % port)
    p = Proxy(text, tmpdir=str(tmp_path))
    try:
        assert p.admin == "127.0.0.1:%d" % port
        assert status_of(get(p.port, "http://games.example/")) == 403
        r = status_cli(["-c", p.config_path])
        assert r.returncode == 0, r.stderr
        assert re.search(rb"acl denials\s+no-games 1\n", r.stdout), r.stdout
        r = status_cli(["-c", p.config_path, "--json"])
        assert r.returncode == 0 and json.loads(r.stdout)["acl_denials"] == {"no-games": 1}
        # --admin still works, and wins over the file.
        r = status_cli(["--admin", p.admin, "-c", "/nonexistent.toml"])
        assert r.returncode == 0, r.stderr
        # A config that does not load is said so, not silently replaced by a default.
        r = status_cli(["-c", str(tmp_path / "missing.toml")])
        assert r.returncode == 2 and b"missing.toml" in r.stderr
        # --follow shows the deciding rule of a denial.
        follow = subprocess.Popen([BIN, "status", "-f", "-c", p.config_path],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = follow.stdout.readline().decode()
            assert " 403 " in line and line.rstrip().endswith("denied-by=no-games"), line
        finally:
            follow.kill()
            follow.wait()
    finally:
        p.stop()


def test_status_with_the_admin_listener_off_says_so(origin, tmp_path):
    text = deny_config(origin, tmp_path).replace('[admin]\nlisten = "127.0.0.1:0"', '[admin]\nlisten = ""')
    cfg = tmp_path / "off.toml"
    cfg.write_text(text)
    r = status_cli(["-c", str(cfg)])
    assert r.returncode == 2 and b"admin listener is off" in r.stderr


# ---------------------------------------------------------------- item 9: status page

def make_denials(p):
    wanted = {"hard:port-25": 4, "no-games": 3, "no-ads": 2, "default-deny": 1}
    urls = {"hard:port-25": "http://127.0.0.1:25/", "no-games": "http://games.example/",
            "no-ads": "http://ads.example/", "default-deny": "http://127.0.0.1:1/"}
    for rule, n in wanted.items():
        for _ in range(n):
            assert status_of(get(p.port, urls[rule])) == 403
    return wanted


def test_status_page_lists_every_denial_rule_and_a_failed_reload(origin, tmp_path):
    cache = '\n[cache]\nenabled = true\ndir = "%s/cache"\nmax_size = "64 MiB"\nmin_free_disk = "0 B"\n' % tmp_path
    p = Proxy(deny_config(origin, tmp_path, cache), tmpdir=str(tmp_path))
    try:
        wanted = make_denials(p)
        st = poll("denials", lambda: (lambda s: s if s["acl_denials"] == wanted else None)(status_json(p)))
        assert list(st["acl_denials"]) == ["hard:port-25", "no-games", "no-ads", "default-deny"]
        assert st["cache"]["max_size_bytes"] == 64 << 20
        with open(p.config_path, "a") as f:
            f.write("\n[no_such_section]\nx = 1\n")
        seen = len(p.events)
        p.signal(signal.SIGHUP)
        p.wait_event("reload_failed", seen=seen)
        st = status_json(p)
        assert st["reloads"]["last_ok"] is False
        assert "no_such_section" in st["reloads"]["last_error"]
        r = status_cli(["--admin", p.admin])
        assert b"hard:port-25 4, no-games 3, no-ads 2, default-deny 1" in r.stdout
        assert b"no_such_section" in r.stdout and b"of 64.0 MiB" in r.stdout

        r = chromium(tmp_path, ["--dump-dom"], "http://%s/" % p.admin)
        dom = r.stdout.decode()
        assert '<span id="state" class="">live</span>' in dom, dom[:2000]
        rows = re.findall(r'<tr><td class="deny">([^<]+)</td><td class="num">(\d+)</td></tr>', dom)
        assert rows == [("hard:port-25", "4"), ("no-games", "3"), ("no-ads", "2"), ("default-deny", "1")]
        assert '<div class="alert" id="reload">' in dom  # no longer hidden
        assert re.search(r'<pre id="reload-error">[^<]*no_such_section', dom)
        assert re.search(r'<div class="k">cache store</div><div class="v">[^<]+</div><div class="s">of 64.0 MiB \(', dom)
        assert console_problems(r.stderr) == []
    finally:
        p.stop()


def test_abuse_blocked_client_is_listed_and_unblocked_by_the_cli(origin, tmp_path):
    port = free_port()
    extra = "\n[abuse]\nrefusals_to_block = 3\nblock_time = \"10m\"\nblock_allowed_sources = true\n"
    text = deny_config(origin, tmp_path, extra).replace('[admin]\nlisten = "127.0.0.1:0"',
                                                        '[admin]\nlisten = "127.0.0.1:%d"' % port)
    p = Proxy(text, tmpdir=str(tmp_path))
    try:
        ok = "http://127.0.0.1:%d/" % origin.port
        assert status_of(get(p.port, ok)) == 200
        for _ in range(3):
            assert status_of(get(p.port, "http://127.0.0.1:25/")) == 403
        p.wait_event("client_blocked")
        try:
            answer = get(p.port, ok)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # closed at accept
        st = poll("blocked client", lambda: (lambda s: s if s["blocked_clients"] else None)(status_json(p)))
        assert st["blocked_clients"][0]["client"] == "127.0.0.1"
        assert 590 <= st["blocked_clients"][0]["seconds_left"] <= 600
        assert st["connections"]["refused"]["blocked"] >= 1
        assert st["connections"]["refused"]["source_denied"] == 0

        r = chromium(tmp_path, ["--dump-dom"], "http://%s/" % p.admin)
        dom = r.stdout.decode()
        assert re.search(r'<tr><td>127\.0\.0\.1</td><td class="num">(9m|10m)</td><td><button>unblock</button></td></tr>', dom), dom
        assert console_problems(r.stderr) == []

        # A browser page elsewhere cannot unblock: the admin header is required.
        code, _, _ = admin_get(p, "/unblock?ip=127.0.0.1", method="POST")
        assert code == 403
        r = subprocess.run([BIN, "unblock", "127.0.0.1", "-c", p.config_path], capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"unblocked 127.0.0.1\n"
        assert status_of(get(p.port, ok)) == 200
        assert status_json(p)["blocked_clients"] == []
        r = subprocess.run([BIN, "unblock", "127.0.0.1", "-c", p.config_path], capture_output=True, timeout=30)
        assert r.returncode == 1 and b"not blocked" in r.stderr
    finally:
        p.stop()


def test_status_lists_the_top_objects_by_bytes_saved(origin, tmp_path):
    """Bytes served from the cache per stored object (issue #15 item 6): in
    /status JSON and on the status page, most saved first."""
    from test_cache import cache_config
    from harness import curl
    p = Proxy(cache_config(origin, tmp_path), tmpdir=str(tmp_path))
    try:
        big, small = origin.url("/c/top-big?size=300000"), origin.url("/c/top-small?size=1000")
        for url, times in ((big, 3), (small, 5)):
            for _ in range(times):
                assert curl(["-x", p.url, "-s", "-o", "/dev/null", url]).returncode == 0
        st = poll("top objects", lambda: (lambda s: s if len(s["top_objects"]) == 2 else None)(status_json(p)))
        first, second = st["top_objects"]
        assert first["key"] == big and second["key"] == small
        assert first["hits"] == 2 and first["bytes_saved"] == 600000 and first["size"] == 300000
        assert second["hits"] == 4 and second["bytes_saved"] == 4000

        r = chromium(tmp_path, ["--dump-dom"], "http://%s/" % p.admin)
        dom = r.stdout.decode()
        rows = re.findall(r'<tbody id="top-objects"><tr><td class="url">([^<]+)</td><td class="num">[^<]+</td>'
                          r'<td class="num">(\d+)</td>', dom)
        assert rows == [(big, "2")], dom[:3000]
        assert console_problems(r.stderr) == []
    finally:
        p.stop()
