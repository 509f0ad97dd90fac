"""The disk cache end to end: real binary, real origin that counts requests."""
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import Proxy, base_config, curl, status_of
from origin import body_of_size


def cache_config(origin, tmp_path, cache_extra=""):
    cache = f"""
[cache]
enabled = true
dir = "{tmp_path}/cache"
max_size = "64 MiB"
max_object_size = "32 MiB"
min_free_disk = "0 B"
{cache_extra}
"""
    return base_config([origin.port], extra=cache, log_dir=str(tmp_path))


@pytest.fixture
def proxy(origin, tmp_path):
    p = Proxy(cache_config(origin, tmp_path), tmpdir=str(tmp_path))
    yield p
    p.stop()


def get(proxy, url, headers=()):
    args = ["-x", proxy.url, "-D", "-"]
    for h in headers:
        args += ["-H", h]
    r = curl(args + [url])
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    return head.decode(errors="replace"), body


def cache_results(proxy, n):
    return [line["cache"] for line in proxy.access_lines(n)]


def test_hit_after_miss(proxy, origin):
    url = origin.url("/c/hit?size=5000")
    head1, body1 = get(proxy, url)
    head2, body2 = get(proxy, url)
    assert body1 == body2 == body_of_size(5000, seed=b"/c/hit")
    assert origin.count("/c/hit") == 1
    assert "Age:" in head2
    assert cache_results(proxy, 2) == ["MISS", "HIT"]


def status_cache(proxy):
    import json
    import urllib.request
    with urllib.request.urlopen(f"http://{proxy.admin}/status", timeout=5) as r:
        return json.loads(r.read())["cache"]


def poll(what, fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_small_hits_come_from_ram_large_from_disk(origin, tmp_path):
    p = Proxy(cache_config(origin, tmp_path, 'memory_max_object_size = "8 KiB"'), tmpdir=str(tmp_path))
    try:
        small, large = origin.url("/c/ram?size=5000"), origin.url("/c/disk?size=300000")
        for url, size, seed in ((small, 5000, b"/c/ram"), (large, 300000, b"/c/disk")):
            for _ in range(3):
                _, body = get(p, url)
                assert body == body_of_size(size, seed=seed)
        assert cache_results(p, 6) == ["MISS", "HIT", "HIT"] * 2
        # Only the small body is held in RAM (the gauge refreshes every second).
        st = poll("the small body in RAM", lambda: (lambda c: c if c["memory_objects"] == 1 else None)(
            status_cache(p)))
        assert st["memory_bytes"] == 5000
        # After an unsafe method the RAM copy goes with the entry: refetched.
        assert curl(["-x", p.url, "-d", "x=1", small]).returncode == 0
        _, body = get(p, small)
        assert body == body_of_size(5000, seed=b"/c/ram")
        assert [r["method"] for r in origin.requests if r["path"].startswith("/c/ram")] == \
            ["GET", "POST", "GET"]
    finally:
        p.stop()


def test_head_answered_from_stored_get(proxy, origin):
    url = origin.url("/c/head?size=700")
    get(proxy, url)
    r = curl(["-x", proxy.url, "-I", url])
    assert b"Content-Length: 700" in r.stdout
    assert origin.count("/c/head") == 1


def test_no_store_and_private_are_not_cached(proxy, origin):
    for cc in ("no-store", "private"):
        url = origin.url("/c/%s?cc=%s" % (cc, cc))
        get(proxy, url)
        get(proxy, url)
        assert origin.count("/c/%s" % cc) == 2


def test_revalidation_with_304(proxy, origin):
    url = origin.url("/c/reval?size=3000&cc=max-age=0&etag=v1")
    _, body1 = get(proxy, url)
    _, body2 = get(proxy, url)
    assert body1 == body2
    assert origin.count("/c/reval") == 2
    second = [r for r in origin.requests if r["path"].startswith("/c/reval")][1]
    assert second["headers"].get("If-None-Match") == '"v1"'
    assert cache_results(proxy, 2) == ["MISS", "REVALIDATED"]


def test_304_for_another_etag_is_refetched_not_relayed(proxy, origin):
    # RFC 9111 §4.3.4: a 304 that selects no stored response updates nothing;
    # the client asked unconditionally, so it must get the full response.
    url = origin.url("/c/bogus304?etag=v1&cc=max-age=0&bogus304=1&size=3000")
    get(proxy, url)
    head, body = get(proxy, url)
    assert head.startswith("HTTP/1.1 200"), head
    assert body == body_of_size(3000, seed=b"/c/bogus304")
    sent = [r["headers"].get("If-None-Match") for r in origin.requests if r["path"].startswith("/c/bogus304")]
    assert sent == [None, '"v1"', None]


def test_304_set_cookie_reaches_only_the_revalidating_client(proxy, origin):
    # Issue #12: the stored response has no cookie and goes stale at once;
    # Alice's revalidation is answered by a 304 that sets her session cookie
    # and extends the lifetime. She gets the cookie; the next client gets the
    # refreshed entry from cache, without it.
    url = origin.url("/c/cookie304?size=2000&cc=max-age=0&etag=v1&nmcc=max-age%3D300&nmcookie=1")
    get(proxy, url)
    alice, body_a = get(proxy, url, ["Cookie: session=ALICE"])
    assert "set-cookie: session=alice" in alice.lower(), alice
    bob, body_b = get(proxy, url)
    assert "set-cookie" not in bob.lower(), bob
    assert body_a == body_b == body_of_size(2000, seed=b"/c/cookie304")
    assert cache_results(proxy, 3) == ["MISS", "REVALIDATED", "HIT"]
    assert origin.count("/c/cookie304") == 2


@pytest.mark.parametrize("nmcc", ["private, no-store", "private, max-age=300", "no-store, max-age=300"])
def test_304_that_makes_the_response_unstorable_removes_it(proxy, origin, nmcc):
    # RFC 9111 §3, §4.3.4: the refreshed head is checked like a new response;
    # the revalidating client still gets its answer, nobody after it does.
    url = origin.url("/c/priv304?size=2000&cc=max-age=0&etag=v1&nmcc=" + nmcc.replace(" ", "%20").replace("=", "%3D"))
    get(proxy, url)
    head, body = get(proxy, url)
    assert head.startswith("HTTP/1.1 200") and body == body_of_size(2000, seed=b"/c/priv304")
    assert nmcc.split(",")[0] in head
    get(proxy, url)
    assert cache_results(proxy, 3) == ["MISS", "REVALIDATED", "MISS"]
    sent = [r["headers"].get("If-None-Match") for r in origin.requests if r["path"].startswith("/c/priv304")]
    assert sent == [None, '"v1"', None]


def test_head_revalidation_keeps_the_stored_get(proxy, origin):
    # The refreshed head is checked as a response to GET: a HEAD that
    # revalidated the entry must not remove it.
    url = origin.url("/c/headreval?size=1500&cc=max-age=0&etag=v1")
    get(proxy, url)
    r = curl(["-x", proxy.url, "-I", url])
    assert r.returncode == 0 and b"Content-Length: 1500" in r.stdout, r.stdout
    _, body = get(proxy, url)
    assert body == body_of_size(1500, seed=b"/c/headreval")
    assert cache_results(proxy, 3) == ["MISS", "REVALIDATED", "REVALIDATED"]


def test_client_conditional_answered_304_from_cache(proxy, origin):
    url = origin.url("/c/cond?etag=abc")
    get(proxy, url)
    head, body = get(proxy, url, ['If-None-Match: "abc"'])
    assert head.startswith("HTTP/1.1 304")
    assert body == b""
    assert origin.count("/c/cond") == 1


def test_vary_keeps_variants_apart(proxy, origin):
    url = origin.url("/c/vary?vary=Accept-Language")
    _, en = get(proxy, url, ["Accept-Language: en"])
    _, fr = get(proxy, url, ["Accept-Language: fr"])
    _, en2 = get(proxy, url, ["Accept-Language: en"])
    assert en.startswith(b"en\n") and fr.startswith(b"fr\n") and en2 == en
    assert origin.count("/c/vary") == 2


def test_vary_star_never_served_from_cache(proxy, origin):
    url = origin.url("/c/vstar?vary=*")
    get(proxy, url)
    get(proxy, url)
    assert origin.count("/c/vstar") == 2


def test_range_served_from_cache(proxy, origin):
    url = origin.url("/c/range?size=10000")
    get(proxy, url)
    head, body = get(proxy, url, ["Range: bytes=100-199"])
    assert head.startswith("HTTP/1.1 206")
    assert "Content-Range: bytes 100-199/10000" in head
    assert body == body_of_size(10000, seed=b"/c/range")[100:200]
    assert origin.count("/c/range") == 1


def test_range_miss_fetches_whole_object_and_cuts_the_range(proxy, origin):
    url = origin.url("/c/rangemiss?size=100000")
    whole = body_of_size(100000, seed=b"/c/rangemiss")
    head, body = get(proxy, url, ["Range: bytes=1000-1999"])
    assert head.startswith("HTTP/1.1 206"), head
    assert "Content-Range: bytes 1000-1999/100000" in head
    assert "Content-Length: 1000" in head
    assert body == whole[1000:2000]
    # The origin was asked for the whole object, which is now cached...
    sent = [r["headers"].get("Range") for r in origin.requests if r["path"].startswith("/c/rangemiss")]
    assert sent == [None]
    head, body = get(proxy, url, ["Range: bytes=-10"])
    assert head.startswith("HTTP/1.1 206") and body == whole[-10:]
    _, body = get(proxy, url)
    assert body == whole
    # ...and a range past the end is a 416 from it.
    head, body = get(proxy, url, ["Range: bytes=200000-"])
    assert head.startswith("HTTP/1.1 416") and "Content-Range: bytes */100000" in head
    assert origin.count("/c/rangemiss") == 1
    assert cache_results(proxy, 4) == ["MISS", "HIT", "HIT", "HIT"]


def test_range_miss_on_a_large_object_forwards_the_range(origin, tmp_path):
    p = Proxy(cache_config(origin, tmp_path, 'range_fetch_whole_max = "10 KiB"'), tmpdir=str(tmp_path))
    try:
        url = origin.url("/c/rangebig?size=100000")
        head, body = get(p, url, ["Range: bytes=0-9"])
        # The test origin ignores Range, so the client gets its full 200.
        assert head.startswith("HTTP/1.1 200"), head
        assert body == body_of_size(100000, seed=b"/c/rangebig")
        sent = [r["headers"].get("Range") for r in origin.requests if r["path"].startswith("/c/rangebig")]
        assert sent == [None, "bytes=0-9"]  # whole fetch given up at the head, then the range
    finally:
        p.stop()


def test_post_invalidates(proxy, origin):
    url = origin.url("/c/inv")
    get(proxy, url)
    r = curl(["-x", proxy.url, "-d", "x=1", url])
    assert r.returncode == 0
    get(proxy, url)
    assert [r["method"] for r in origin.requests if r["path"].startswith("/c/inv")] == ["GET", "POST", "GET"]


def test_only_if_cached_miss_gives_504(proxy, origin):
    head, _ = get(proxy, origin.url("/c/oic"), ["Cache-Control: only-if-cached"])
    assert head.startswith("HTTP/1.1 504")
    assert origin.count("/c/oic") == 0


def test_restart_keeps_cache(origin, tmp_path):
    cfg = cache_config(origin, tmp_path)
    p = Proxy(cfg, tmpdir=str(tmp_path))
    url = origin.url("/c/persist?size=20000")
    try:
        _, body = get(p, url)
    finally:
        p.stop()
    p2 = Proxy(cfg, tmpdir=str(tmp_path))
    try:
        # The index loads in the background: poll (bounded) until it serves the hit.
        deadline = time.monotonic() + 10
        while True:
            _, again = get(p2, url, ["Cache-Control: only-if-cached"])
            if again == body or time.monotonic() > deadline:
                break
        assert again == body
        assert origin.count("/c/persist") == 1
    finally:
        p2.stop()


def test_kill_during_write_never_serves_truncated(origin, tmp_path):
    cfg = cache_config(origin, tmp_path)
    p = Proxy(cfg, tmpdir=str(tmp_path))
    path = "/slowbig/kill"
    url = origin.url(path + "?size=4000000&pieces=200&gap=0.01")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.encode())
    got = b""
    while len(got) < 500_000:  # the body is being written to the cache now
        chunk = s.recv(65536)
        assert chunk
        got += chunk
    p.proc.send_signal(signal.SIGKILL)
    p.proc.wait(10)
    s.close()
    p2 = Proxy(cfg, tmpdir=str(tmp_path))
    try:
        r = curl(["-x", p2.url, url])
        assert r.returncode == 0, r.stderr
        assert r.stdout == body_of_size(4_000_000, seed=b"slowbig")
        assert origin.count(path) == 2  # re-fetched, not served from a partial file
    finally:
        p2.stop()


def test_disk_full_keeps_proxying_without_caching(origin, tmp_path):
    cfg = cache_config(origin, tmp_path).replace('min_free_disk = "0 B"', 'min_free_disk = "1000 TiB"')
    p = Proxy(cfg, tmpdir=str(tmp_path))
    try:
        url = origin.url("/c/full?size=2000")
        _, b1 = get(p, url)
        _, b2 = get(p, url)
        assert b1 == b2 == body_of_size(2000, seed=b"/c/full")
        assert origin.count("/c/full") == 2
    finally:
        p.stop()


def test_eviction_keeps_size_under_max(origin, tmp_path):
    cfg = cache_config(origin, tmp_path).replace('max_size = "64 MiB"', 'max_size = "1 MiB"')
    p = Proxy(cfg, tmpdir=str(tmp_path))
    try:
        for i in range(12):
            get(p, origin.url("/c/ev%d?size=200000" % i))
    finally:
        p.stop()
    total = 0
    for root, _, files in os.walk(os.path.join(str(tmp_path), "cache", "objects")):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    assert 0 < total <= 1024 * 1024
    r = subprocess.run([os.environ.get("PORTCULLIS_BIN"), "cache", "stats", "-c", p.config_path],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert b"objects" in r.stdout


def test_classroom_burst_collapses_to_one_fetch(proxy, origin):
    n_clients = 30
    size = 10 * 1024 * 1024
    path = "/slowbig/burst"
    url = origin.url(path + "?size=%d&pieces=100&gap=0.01" % size)
    expected = hashlib.sha256(body_of_size(size, seed=b"slowbig")).hexdigest()
    barrier = threading.Barrier(n_clients)
    results = [None] * n_clients

    def client(i):
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=60)
        req = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % url.encode()
        barrier.wait(30)
        s.sendall(req)
        data = b""
        first = None
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            if first is None:
                first = time.monotonic()
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        results[i] = (status_of(data), first, hashlib.sha256(body).hexdigest(), len(body), head)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert origin.count(path) == 1
    done = origin.finished_at(path)
    for status, first, digest, length, head in results:
        assert status == 200, head
        assert length == size and digest == expected
        assert first < done  # streamed while the origin was still sending


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_collapsed_waiters_of_a_chunked_response(proxy, origin, version):
    """Waiters get the leader's chunked body re-chunked (HTTP/1.1) or
    close-delimited (HTTP/1.0), complete and byte-identical."""
    path = "/slowchunked/" + version
    url = origin.url(path + "?size=2000000")
    n_clients = 5
    barrier = threading.Barrier(n_clients)
    bodies = [None] * n_clients

    def client(i):
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
        barrier.wait(10)
        s.sendall(b"GET %s HTTP/%s\r\nHost: x\r\nConnection: close\r\n\r\n" % (url.encode(), version.encode()))
        data = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        s.close()
        bodies[i] = data

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    want = body_of_size(2000000, seed=b"slowchunked")
    for data in bodies:
        head, _, body = data.partition(b"\r\n\r\n")
        assert status_of(data) == 200, head
        if b"transfer-encoding: chunked" in head.lower():
            decoded = b""
            while True:
                line, _, body = body.partition(b"\r\n")
                size = int(line, 16)
                if size == 0:
                    break
                decoded += body[:size]
                body = body[size + 2:]
            body = decoded
        assert body == want
    assert origin.count(path) == 1
