"""`portcullis cache purge` (through the daemon's admin socket, and offline)
removes a sliced object whole: its descriptor and every slice, so the next
request fetches it again from the origin (issue #15)."""
import subprocess

from harness import BIN, Proxy
from test_slices import MiB, SliceOrigin, fetch, slice_config


def purge(config_path, url):
    r = subprocess.run([BIN, "cache", "purge", "-c", config_path, url],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_purge_removes_every_slice_of_an_object(tmp_path):
    size = 8 * MiB
    origin = SliceOrigin(size)
    sock = tmp_path / "admin.sock"
    text = slice_config(origin, tmp_path / "cache", str(tmp_path))
    text = text.replace('[admin]\nlisten = "127.0.0.1:0"', f'[admin]\nlisten = "unix:{sock}"', 1)
    assert f"unix:{sock}" in text
    url = "http://127.0.0.1:%d/obj" % origin.port
    p = Proxy(text, tmpdir=str(tmp_path))
    try:
        status, _, body, _ = fetch(p, url, 2 * MiB, 5 * MiB - 1)  # slices 2, 3, 4
        assert status == 206 and body == origin.content.read(2 * MiB, 3 * MiB)
        served = len(origin.served)
        assert fetch(p, url, 3 * MiB, 4 * MiB - 1)[0] == 206
        assert len(origin.served) == served  # a hit
        # Through the running daemon: the descriptor and the 3 slices.
        assert purge(p.config_path, url) == "purged 4 object(s)"
        status, _, body, _ = fetch(p, url, 3 * MiB, 4 * MiB - 1)
        assert status == 206 and body == origin.content.read(3 * MiB, MiB)
        assert len(origin.served) == served + 1  # fetched again (the probe)
        assert p.access_lines(3)[-1]["cache"] == "MISS"
    finally:
        assert p.stop() == 0
    # Offline: the descriptor and the slice stored since.
    assert purge(p.config_path, url).startswith("purged 2 object(s) (daemon not running")
    p = Proxy(text, tmpdir=str(tmp_path))
    try:
        served = len(origin.served)
        status, _, body, _ = fetch(p, url, 3 * MiB, 4 * MiB - 1)
        assert status == 206 and body == origin.content.read(3 * MiB, MiB)
        assert len(origin.served) == served + 1
        p.finish()
    finally:
        p.stop()
        origin.close()
