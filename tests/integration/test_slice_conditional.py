"""A sliced object answers the client's conditionals from its descriptor
(RFC 9110 §13.2.2): If-None-Match matching its ETag gives 304 without
reading a slice or asking the origin, If-Match not matching gives 412; a
response served from slices carries Age (RFC 9111 §5.1)."""
import http.client

from harness import Proxy
from test_slices import MiB, SliceOrigin, fetch, slice_config


def get(proxy, url, headers):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    try:
        conn.request("GET", url, headers=headers)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def test_conditionals_and_age_on_a_sliced_object(tmp_path):
    origin = SliceOrigin(8 * MiB)
    p = Proxy(slice_config(origin, tmp_path / "cache", str(tmp_path)), tmpdir=str(tmp_path))
    try:
        url = "http://127.0.0.1:%d/obj" % origin.port
        status, headers, _, _ = fetch(p, url, 3 * MiB, 4 * MiB - 1)
        assert status == 206 and "age" not in headers  # fetched now, not from the cache
        served = len(origin.served)
        rng = "bytes=%d-%d" % (3 * MiB, 4 * MiB - 1)
        status, headers, body = get(p, url, {"Range": rng, "If-None-Match": '"v1"'})
        assert status == 304 and body == b"" and headers["etag"] == '"v1"'
        status, _, body = get(p, url, {"If-Match": '"v0"'})
        assert status == 412
        status, headers, body = get(p, url, {"Range": rng, "If-None-Match": '"v0"'})
        assert status == 206 and body == origin.content.read(3 * MiB, MiB)
        assert int(headers["age"]) >= 0
        assert len(origin.served) == served
        lines = p.access_lines(4)[1:]
        assert [(x["status"], x["cache"], x["slice"]) for x in lines] == [
            (304, "HIT", "sliced"), (412, "HIT", "sliced"), (206, "HIT", "sliced")]
        p.finish()
    finally:
        p.stop()
        origin.close()
