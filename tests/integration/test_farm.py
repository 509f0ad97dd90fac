"""Running behind a load balancer (issue #18): the admin listener's /healthz
turns to "draining" at SIGTERM while the node keeps serving for
[server] drain_delay, so the balancer moves away before the node stops."""
import signal
import time
import urllib.error
import urllib.request

from harness import Proxy, base_config, get


def healthz(p):
    try:
        with urllib.request.urlopen("http://%s/healthz" % p.admin, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_sigterm_turns_healthz_to_draining_while_requests_are_still_served(origin, tmp_path):
    p = Proxy(base_config([origin.port], extra="") .replace(
        "workers = 1", 'workers = 1\ndrain_delay = "30s"'), tmpdir=str(tmp_path))
    assert healthz(p) == (200, b"ok\n")
    p.signal(signal.SIGTERM)
    stopping = p.wait_event("stopping")
    assert stopping["drain_delay_ms"] == 30000
    assert healthz(p) == (503, b"draining\n")
    # Still accepting and serving: the balancer has not noticed yet.
    assert get(p.port, "http://127.0.0.1:%d/a" % origin.port).status == 200
    assert p.proc.poll() is None
    # A second SIGTERM does not wait out the delay.
    p.signal(signal.SIGTERM)
    assert p.proc.wait(15) == 0


def test_drain_delay_ends_by_itself(origin, tmp_path):
    p = Proxy(base_config([origin.port]).replace("workers = 1", 'workers = 1\ndrain_delay = "300ms"'),
              tmpdir=str(tmp_path))
    started = time.monotonic()
    p.signal(signal.SIGTERM)
    p.wait_event("drained")
    assert p.proc.wait(15) == 0
    assert time.monotonic() - started >= 0.3
