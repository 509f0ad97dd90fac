"""The reload contract (issue #14 item 5): live keys reach every worker on
the next request; restart-only keys are reported in the reload event, on
/status, by `portcullis status` and by `validate --against-running`."""
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request

from harness import BIN, Proxy, Reader, ScriptedNameserver, base_config, connect
from origin import Origin
from test_observability import chromium, console_problems


def cli(*args, timeout=30):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout)


def rewrite_and_reload(p, text):
    with open(p.config_path, "w") as f:
        f.write(text)
    seen = len(p.events)
    p.signal(signal.SIGHUP)
    return p.wait_event("reload", seen=seen)


def ask(sock, url):
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.encode())
    return Reader(sock, 10).read_response()


def status_json(p):
    with urllib.request.urlopen("http://%s/status" % p.admin, timeout=10) as r:
        return json.loads(r.read())


def test_reload_switches_name_servers_for_the_next_request(origin, tmp_path, started):
    """Two scripted name servers give two addresses of one name, each with an
    origin on the same port. A reload that names the second server makes the
    next request on the same kept-alive connection go where it says, although
    the first answer would still be cached for a minute (min_ttl)."""
    second = Origin("127.0.0.2", origin.port)
    old_ns, new_ns = ScriptedNameserver("127.0.0.1"), ScriptedNameserver("127.0.0.2")
    try:
        dns = '\n[dns]\nhosts_file = false\nmin_ttl = "1m"\nnameservers = ["127.0.0.1:%d"]\n'
        text = base_config([origin.port], log_dir=str(tmp_path))
        p = Proxy(text + dns % old_ns.port, tmpdir=str(tmp_path))
        started.append(p)
        url = "http://site.portcullis-test.invalid:%d" % origin.port
        s = connect(p.port)
        try:
            r = ask(s, url + "/before")
            assert r.status == 200, r
            assert origin.count("/before") == 1 and second.count("/before") == 0
            ev = rewrite_and_reload(p, text + dns % new_ns.port)
            assert ev["restart_required"] == "", ev  # [dns] is applied, not postponed
            r = ask(s, url + "/after")
            assert r.status == 200, r
            assert second.count("/after") == 1 and origin.count("/after") == 0
        finally:
            s.close()
        p.finish()
    finally:
        old_ns.close()
        new_ns.close()
        second.close()


def test_restart_only_changes_are_reported_everywhere(origin, tmp_path, started):
    """Another listen address (same count) and another access log path: the
    daemon keeps both, and says so in the event, on /status, in `portcullis
    status` and in `validate --against-running`, against what it started
    with (a second reload still reports them), until the file matches again."""
    text = base_config([origin.port], log_dir=str(tmp_path))
    p = Proxy(text, tmpdir=str(tmp_path))
    started.append(p)
    status = status_json(p)
    assert status["reloads"]["restart_required"] == [] and status["reloads"]["last_time"] is None
    changed = text.replace('listen = ["127.0.0.1:0"]', 'listen = ["127.0.0.2:0"]')
    changed = changed.replace("access.log", "other-access.log")
    assert changed.count("127.0.0.2:0") == 1 and "other-access.log" in changed
    with open(p.config_path, "w") as f:
        f.write(changed)

    r = cli("validate", "-c", p.config_path, "--against-running", "--admin", p.admin)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'server.listen: running "127.0.0.1:0", file "127.0.0.2:0" (restart required)' \
        in r.stdout, r.stdout
    assert "log.access: running" in r.stdout and "other-access.log" in r.stdout, r.stdout
    assert "admin.listen" not in r.stdout and "dns." not in r.stdout, r.stdout

    for _ in range(2):  # the second reload compares with the start-up config too
        ev = rewrite_and_reload(p, changed)
        assert ev["restart_required"] == "server.listen, log.access", ev
        reloads = status_json(p)["reloads"]
        assert reloads["restart_required"] == ["server.listen", "log.access"], reloads
        assert reloads["last_ok"] is True and reloads["last_time"], reloads
    r = cli("status", "--admin", p.admin)
    assert r.returncode == 0, r.stderr
    assert "restart       needed for server.listen, log.access (" in r.stdout, r.stdout
    page = chromium(tmp_path, ["--dump-dom"], "http://%s/" % p.admin)
    dom = page.stdout.decode()
    assert '<div class="alert" id="restart">' in dom, dom[:2000]  # no longer hidden
    assert '<span id="restart-keys">server.listen, log.access</span>' in dom
    assert console_problems(page.stderr) == []
    # Still serving on the start-up address, logging to the start-up file.
    s = connect(p.port)
    try:
        assert ask(s, origin.url("/still")).status == 200
    finally:
        s.close()
    assert p.access_lines(1)[-1]["url"] == origin.url("/still")

    ev = rewrite_and_reload(p, text)
    assert ev["restart_required"] == "", ev
    assert status_json(p)["reloads"]["restart_required"] == []
    r = cli("validate", "-c", p.config_path, "--against-running", "--admin", p.admin)
    assert r.returncode == 0 and "no restart-only key changes" in r.stdout, r.stdout + r.stderr
    p.finish()


def test_validate_against_running_says_when_it_cannot_ask(tmp_path, origin):
    cfg = tmp_path / "portcullis.toml"
    cfg.write_text(base_config([origin.port]))
    r = cli("validate", "-c", str(cfg), "--against-running", "--admin", "127.0.0.1:1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "configuration OK" in r.stdout and "cannot ask the running daemon" in r.stderr


def test_a_lookup_in_flight_moves_to_the_new_name_servers(origin, tmp_path, started):
    """A request waits on a name server that never answers; a reload that
    names another one re-sends the lookup there (evdns suspend and resume),
    so the request completes instead of failing with a DNS error."""
    silent, answering = ScriptedNameserver(), ScriptedNameserver("127.0.0.1")
    silent.silent = True
    try:
        dns = '\n[dns]\nhosts_file = false\ntimeout = "30s"\nnameservers = ["127.0.0.1:%d"]\n'
        text = base_config([origin.port], log_dir=str(tmp_path))
        p = Proxy(text + dns % silent.port, tmpdir=str(tmp_path))
        started.append(p)
        s = connect(p.port, timeout=20)
        try:
            url = "http://waiting.portcullis-test.invalid:%d/in-flight" % origin.port
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.encode())
            end = time.monotonic() + 10
            while silent.queries == 0:  # the lookup is in flight
                assert time.monotonic() < end, "no query reached the first name server"
                time.sleep(0.01)
            rewrite_and_reload(p, text + dns % answering.port)
            r = Reader(s, 20).read_response()
            assert r.status == 200, r
            assert origin.count("/in-flight") == 1 and answering.queries > 0
        finally:
            s.close()
        p.finish()
    finally:
        silent.close()
        answering.close()


def test_reload_applies_the_admin_allow_list(origin, tmp_path, started):
    text = base_config([origin.port], log_dir=str(tmp_path))
    assert text.count('[admin]\nlisten = "127.0.0.1:0"') == 1
    p = Proxy(text, tmpdir=str(tmp_path))
    started.append(p)
    assert status_json(p)["reloads"]["success"] == 0
    closed = text.replace('[admin]\nlisten = "127.0.0.1:0"',
                          '[admin]\nlisten = "127.0.0.1:0"\nallow = ["192.0.2.0/24"]')
    ev = rewrite_and_reload(p, closed)
    assert ev["restart_required"] == "", ev
    try:
        status_json(p)
        raise AssertionError("the admin listener still answers 127.0.0.1")
    except urllib.error.HTTPError as e:
        assert e.code == 403
    p.finish()


def test_reload_applies_upstream_idle_timeout_to_idle_pooled_connections(origin, tmp_path,
                                                                           started):
    """A pooled connection idle under a 1 h timeout is closed soon after a
    reload lowers upstream_idle_timeout: the worker re-arms its idle timers."""
    text = base_config([origin.port], log_dir=str(tmp_path))
    text = text.replace("workers = 1\n", "workers = 1\nupstream_idle_timeout = \"%s\"\n", 1)
    assert "upstream_idle_timeout" in text
    p = Proxy(text % "1h", tmpdir=str(tmp_path))
    started.append(p)
    s = connect(p.port)
    try:
        assert ask(s, origin.url("/pooled")).status == 200
    finally:
        s.close()
    p.access_lines(1)  # the exchange is over: its upstream connection is idle in the pool
    assert origin.closed_connections == 0
    rewrite_and_reload(p, text % "100ms")
    end = time.monotonic() + 5
    while origin.closed_connections == 0:
        assert time.monotonic() < end, "the idle upstream connection was kept"
        time.sleep(0.02)
    p.finish()
