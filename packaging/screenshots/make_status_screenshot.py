"""Makes packaging/screenshots/status-page.png for the README.

Runs the daemon with the disk cache, sends a mix of hits, misses and denials
for a few minutes so the chart has some one-minute points, then screenshots
the status page in headless Chromium. Not a test; run by hand:

  PORTCULLIS_BIN=build/portcullis /usr/bin/python3 packaging/screenshots/make_status_screenshot.py \\
      packaging/screenshots/status-page.png 250
"""
import http.client, json, os, random, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
from harness import Proxy
from origin import Origin
import test_observability as t
out = sys.argv[1]
o = Origin(); tmp = tempfile.mkdtemp(prefix="obs-shot-"); dp = t.free_port()
p = Proxy(t.obs_config(o, tmp, dp, cache=True), tmpdir=tmp)
def get(url):
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
    c.request("GET", url); r = c.getresponse(); r.read(); c.close()
rng = random.Random(7)
end = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < end:
    minute = int(time.time() // 60)
    hot = 0.35 + 0.15 * (minute % 4)       # hit share changes per minute
    if rng.random() < hot:
        get(o.url("/c/popular%d?size=%d" % (rng.randrange(6), rng.choice([40000, 120000, 300000]))))
    elif rng.random() < 0.04:
        get("http://127.0.0.1:%d/blocked" % dp)
    else:
        i += 1
        get(o.url("/size/%d?n=%d" % (rng.randrange(2000, 90000), i)))
    time.sleep(0.05)  # pacing the traffic, not waiting for a result
st = t.status_json(p)
print(len(st["history"]), st["requests"]["total"], st["hit_ratio"])
prof = tempfile.mkdtemp(prefix="obs-shot-prof-")
subprocess.run(["chromium"] + t.CHROMIUM_FLAGS + ["--user-data-dir=" + prof, "--screenshot=" + out,
                "--window-size=1200,900", "http://%s/" % p.admin], capture_output=True, timeout=60, check=True)
p.stop(); o.close()
