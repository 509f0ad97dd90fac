"""Operating a running daemon (issue #13): one daemon per cache directory,
`cache purge` that never edits a live cache behind the daemon's back, the pid
file, and `portcullis reload` / `portcullis reopen-logs`."""
import os
import subprocess

import pytest

from harness import BIN, Proxy, base_config, curl


def cache_config(origin, tmp, admin='""', server_extra="", cache_dir=None):
    text = base_config([origin.port], log_dir=str(tmp), extra=f"""
[cache]
enabled = true
dir = "{cache_dir or os.path.join(tmp, 'cache')}"
min_free_disk = "0 B"
""")
    text = text.replace('listen = "127.0.0.1:0"\n', f"listen = {admin}\n", 1)
    return text.replace("workers = 1\n", "workers = 1\n" + server_extra, 1)


def cli(*args, timeout=30):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


def fetch_cache_result(proxy, url, n):
    """GETs `url` through the proxy; returns the access log's cache result of
    that request, the n-th line of the log."""
    r = curl(["-x", proxy.url, "-o", "/dev/null", url])
    assert r.returncode == 0, r.stderr
    return proxy.access_lines(n)[n - 1]["cache"]


# --- item 3: one daemon per cache directory ------------------------------------------

def test_second_daemon_on_the_same_cache_dir_refuses_naming_the_first(origin, tmp_path):
    first = Proxy(cache_config(origin, tmp_path), tmpdir=str(tmp_path))
    try:
        other = tmp_path / "second"
        other.mkdir()
        # Same cache directory, everything else its own (its port is another
        # ephemeral one, so only the lock can stop it).
        cfg = cache_config(origin, other, cache_dir=str(tmp_path / "cache"))
        (other / "portcullis.toml").write_text(cfg)
        r = subprocess.run([BIN, "run", "-c", str(other / "portcullis.toml"), "--allow-root"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert f"is in use by portcullis process {first.proc.pid}" in r.stderr, r.stderr
        assert str(tmp_path / "cache" / "portcullis.lock") in r.stderr
        assert '"ready"' not in r.stderr
        # The first one is untouched and still serves.
        assert fetch_cache_result(first, origin.url("/c/after?size=100"), 1) == "MISS"
    finally:
        assert first.stop() == 0
    # The lock went with the process: the lock file left behind does not block.
    again = Proxy(cache_config(origin, tmp_path), tmpdir=str(tmp_path))
    assert again.stop() == 0


# --- item 2: cache purge and a running daemon ----------------------------------------

def test_purge_refuses_when_the_daemon_runs_without_admin_listener(origin, tmp_path):
    p = Proxy(cache_config(origin, tmp_path), tmpdir=str(tmp_path))
    try:
        url = origin.url("/c/keep?size=2000")
        assert fetch_cache_result(p, url, 1) == "MISS"
        r = cli("cache", "purge", "-c", p.config_path, url)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "purged" not in r.stdout
        assert f"not purged: portcullis process {p.proc.pid} is running" in r.stderr
        assert "[admin] listen" in r.stderr and "stop the daemon" in r.stderr
        assert fetch_cache_result(p, url, 2) == "HIT"
        assert origin.count("/c/keep") == 1
    finally:
        p.stop()


def test_purge_goes_through_the_admin_listener_of_a_running_daemon(origin, tmp_path):
    sock = tmp_path / "admin.sock"
    p = Proxy(cache_config(origin, tmp_path, admin=f'"unix:{sock}"'), tmpdir=str(tmp_path))
    try:
        url = origin.url("/c/gone?size=2000")
        assert fetch_cache_result(p, url, 1) == "MISS"
        assert fetch_cache_result(p, url, 2) == "HIT"
        r = cli("cache", "purge", "-c", p.config_path, url)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "purged 1 object(s)"
        assert fetch_cache_result(p, url, 3) == "MISS"
        assert origin.count("/c/gone") == 2
    finally:
        p.stop()


def test_purge_edits_the_directory_when_no_daemon_runs(origin, tmp_path):
    p = Proxy(cache_config(origin, tmp_path), tmpdir=str(tmp_path))
    url = origin.url("/c/offline?size=2000")
    try:
        assert fetch_cache_result(p, url, 1) == "MISS"
    finally:
        assert p.stop() == 0
    assert "objects 1" in cli("cache", "stats", "-c", p.config_path).stdout
    r = cli("cache", "purge", "-c", p.config_path, url)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("purged 1 object(s) (daemon not running: edited ")
    assert "objects 0" in cli("cache", "stats", "-c", p.config_path).stdout
