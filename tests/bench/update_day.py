#!/usr/bin/env python3
"""Update day (issue #15, "Must show"): many clients download one large object
in shuffled ranged requests through a caching proxy on a thin link.

Side by side in one run, one row per proxy, each with the same cache size:
  portcullis   this tree's build (max_object_size raised to the cache size)
  squid        Squid 5.7, the usual recipe: range_offset_limit -1,
               quick_abort_min -1 KB, maximum_object_size = cache size,
               a ufs cache_dir of the cache size (cache_mem 0)
  nginx-slice  nginx with the lancache configuration: slice 1m;
               proxy_cache_key $uri$slice_range; proxy_cache_lock on

The origin (this script, --origin) serves one sparse-generated object with
Range, a strong ETag and Last-Modified, paced by one token bucket shared by
all its connections (the thin link; --rate). --clients clients each fetch the
whole object in ranged requests of 1-8 MiB in their own shuffled order (the
range sizes and orders are fixed by --seed), one keep-alive connection each,
and compare every byte. Per proxy:

  origin/object  origin body bytes / object size (1.00: each byte crossed once)
  last client    seconds from the start until the last client finished
  peak RSS       the proxy's VmHWM (all its processes) at the end

    update_day.py [--size 2GiB] [--clients 30] [--rate 100MiB] [--cache 4GiB]
                  [--proxies portcullis,squid,nginx-slice] [--timeout 900]

Loopback only; every process runs in its own session and is stopped by its
process group. Not a test (not run by ctest or CI). Exits 1 when a client got
a wrong byte, 2 on a setup failure.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MIB = 1024 * 1024
BLOCK = 4096
ETAG = '"update-day-v1"'
LAST_MODIFIED = "Mon, 01 Jun 2026 00:00:00 GMT"


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?i?B?)\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError("not a size: %r" % text)
    unit = m.group(2).upper().rstrip("B").rstrip("I")
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[unit]


def content(first, last):
    """Bytes [first, last] of the object: 4 KiB blocks, each its index repeated."""
    b0, b1 = first // BLOCK, last // BLOCK
    data = b"".join((b % (1 << 64)).to_bytes(8, "little") * (BLOCK // 8) for b in range(b0, b1 + 1))
    off = first - b0 * BLOCK
    return data[off:off + (last - first + 1)]


# --- the origin (a separate process: --origin) ----------------------------------


class Bucket:
    """One token bucket for every connection: the thin link."""

    def __init__(self, rate):
        self.rate, self.tokens, self.at = rate, 0.0, time.monotonic()
        self.lock = threading.Lock()

    def take(self, n):
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.rate * 0.05, self.tokens + (now - self.at) * self.rate)
                self.at = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                wait = (n - self.tokens) / self.rate
            time.sleep(min(wait, 0.05))


def run_origin(size, rate):
    bucket = Bucket(rate)
    stats = {"body_bytes": 0, "requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/stats":
                with lock:
                    body = json.dumps(stats).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            with lock:
                stats["requests"] += 1
            first, last, status = 0, size - 1, 200
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
            if_range = self.headers.get("If-Range")
            if m and (if_range is None or if_range in (ETAG, LAST_MODIFIED)):
                if m.group(1):
                    first = int(m.group(1))
                    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:
                    first = max(0, size - int(m.group(2)))
                if first > last or first >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Length", str(last - first + 1))
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, size))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", ETAG)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Cache-Control", "public, max-age=86400")
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            at = first
            while at <= last:
                n = min(256 * 1024, last - at + 1)
                bucket.take(n)
                try:
                    self.wfile.write(content(at, at + n - 1))
                except OSError:
                    return
                with lock:
                    stats["body_bytes"] += n
                at += n

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    server.serve_forever()


# --- one client (a separate process: --client) --------------------------------


def client_ranges(size, seed):
    rng = random.Random(seed)
    ranges, at = [], 0
    while at < size:
        n = rng.randint(1, 8) * MIB
        ranges.append((at, min(size, at + n) - 1))
        at += n
    rng.shuffle(ranges)
    return ranges


def run_client(proxy_port, url, size, seed, deadline):
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=300)
    got = bad = 0
    for first, last in client_ranges(size, seed):
        if time.monotonic() > deadline:
            break
        for attempt in range(3):
            try:
                conn.request("GET", url, headers={"Range": "bytes=%d-%d" % (first, last)})
                r = conn.getresponse()
                body = r.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=300)
        else:
            bad += 1
            continue
        if r.status == 206 and body == content(first, last):
            got += len(body)
        elif r.status == 200 and len(body) == size and body[first:last + 1] == content(first, last):
            got += last - first + 1  # a whole 200 is a valid answer to a Range
        else:
            bad += 1
    print(json.dumps({"bytes": got, "bad": bad}), flush=True)


# --- processes ----------------------------------------------------------------


def start(argv, log_path, **kw):
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=kw.pop("stdout", log), stderr=log,
                                start_new_session=True, **kw)


def stop(proc, grace_s=10):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, deadline_s):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("exited with %s before listening" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on 127.0.0.1:%d" % port)


def peak_rss_kib(pgid):
    """The summed VmHWM of every process in the group (squid/nginx helpers too)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open("/proc/%s/status" % pid) as f:
                m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
            total += int(m.group(1)) if m else 0
        except (OSError, ProcessLookupError):
            continue
    return total


# --- the proxies -----------------------------------------------------------------


def portcullis(scratch, port, origin_port, cache, binary):
    conf = os.path.join(scratch, "portcullis.toml")
    with open(conf, "w") as f:
        f.write(f"""[server]
listen = ["127.0.0.1:{port}"]
workers = 1
[admin]
listen = ""
[log]
access = "{scratch}/access.log"
events = "{scratch}/events.log"
[cache]
enabled = true
dir = "{scratch}/cache"
max_size = "{cache // MIB} MiB"
max_object_size = "{cache // MIB} MiB"
min_free_disk = "1 MiB"
[sources]
bench = ["127.0.0.1/32"]
[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{origin_port}] }}
[[rule]]
name = "bench"
allow = {{ from = "bench", to = "origin" }}
""")
    argv = [binary, "run", "-c", conf] + (["--allow-root"] if os.geteuid() == 0 else [])
    return start(argv, os.path.join(scratch, "portcullis.out"), cwd=scratch)


def squid(scratch, port, origin_port, cache, binary):
    conf = os.path.join(scratch, "squid.conf")
    with open(conf, "w") as f:
        f.write(f"""http_port 127.0.0.1:{port}
visible_hostname bench-update-day
acl bench_clients src 127.0.0.1/32
http_access allow bench_clients
http_access deny all
# The usual update-caching recipe.
range_offset_limit -1
quick_abort_min -1 KB
maximum_object_size {cache // MIB} MB
cache_mem 0 MB
cache_dir ufs {scratch}/cache {cache // MIB} 16 256
refresh_pattern . 0 20% 4320
pid_filename {scratch}/squid.pid
cache_log {scratch}/cache.log
access_log stdio:{scratch}/access.log squid
cache_store_log none
coredump_dir {scratch}
shutdown_lifetime 1 second
pinger_enable off
client_db off
""")
    if os.geteuid() == 0:  # squid drops to user proxy: it must own its files
        shutil.chown(scratch, "proxy", "proxy")
    log = os.path.join(scratch, "squid.out")
    init = start([binary, "-N", "-z", "-f", conf], log, cwd=scratch)
    if init.wait(60) != 0:
        raise RuntimeError("squid -z failed, see %s" % log)
    return start([binary, "-N", "-f", conf], log, cwd=scratch)


def nginx_slice(scratch, port, origin_port, cache, binary):
    conf = os.path.join(scratch, "nginx.conf")
    os.makedirs(os.path.join(scratch, "cache"), exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(f"""{user}daemon off;
master_process off;
worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {scratch}/access.log;
  client_body_temp_path {scratch}/client_body;
  proxy_temp_path {scratch}/proxy_temp;
  fastcgi_temp_path {scratch}/fastcgi; uwsgi_temp_path {scratch}/uwsgi; scgi_temp_path {scratch}/scgi;
  # lancache: 1 MiB slices keyed by URI and slice, one fetch per slice.
  proxy_cache_path {scratch}/cache levels=2:2 keys_zone=generic:64m inactive=200d
                   max_size={cache // MIB}m use_temp_path=off;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      slice 1m;
      proxy_cache generic;
      proxy_cache_key $uri$slice_range;
      proxy_set_header Range $slice_range;
      proxy_set_header Host $http_host;
      proxy_cache_valid 200 206 90d;
      proxy_cache_lock on;
      proxy_cache_lock_age 2m;
      proxy_cache_lock_timeout 1h;
      proxy_ignore_headers Expires Cache-Control;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://127.0.0.1:{origin_port};
    }}
  }}
}}
""")
    return start([binary, "-p", scratch, "-c", conf], os.path.join(scratch, "nginx.out"), cwd=scratch)


PROXIES = {"portcullis": portcullis, "squid": squid, "nginx-slice": nginx_slice}


def origin_stats(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/stats")
    s = json.loads(conn.getresponse().read())
    conn.close()
    return s


def run_one(name, args, work):
    scratch = os.path.join(work, name)
    os.makedirs(scratch)
    origin = start([sys.executable, __file__, "--origin", "--size", str(args.size), "--rate",
                    str(args.rate)], os.path.join(scratch, "origin.log"), stdout=subprocess.PIPE)
    proxy = None
    try:
        line = origin.stdout.readline().decode()
        if not line.startswith("port "):
            raise RuntimeError("origin did not start: %r" % line)
        origin_port = int(line.split()[1])
        port = free_port()
        binary = {"portcullis": args.portcullis, "squid": args.squid, "nginx-slice": args.nginx}[name]
        proxy = PROXIES[name](scratch, port, origin_port, args.cache, binary)
        wait_for_port(port, proxy, 30)
        url = "http://127.0.0.1:%d/update.bin" % origin_port
        started = time.monotonic()
        deadline = started + args.timeout
        clients = [start([sys.executable, __file__, "--client", "--proxy-port", str(port), "--url", url,
                          "--size", str(args.size), "--seed", str(args.seed * 1000 + i),
                          "--deadline-s", str(args.timeout)],
                         os.path.join(scratch, "client%d.err" % i), stdout=subprocess.PIPE)
                   for i in range(args.clients)]
        results, last = [], 0.0
        for c in clients:
            out, _ = c.communicate(timeout=args.timeout + 120)
            last = max(last, time.monotonic() - started)
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        rss = peak_rss_kib(proxy.pid)
        done = sum(r["bytes"] for r in results)
        bad = sum(r["bad"] for r in results)
        origin_bytes = origin_stats(origin_port)["body_bytes"]
        return {"proxy": name, "origin_ratio": origin_bytes / args.size, "origin_bytes": origin_bytes,
                "last_client_s": last, "peak_rss_mib": rss / 1024, "bad": bad,
                "complete": done == args.size * args.clients and time.monotonic() <= deadline + 1,
                "client_bytes": done}
    finally:
        stop(proxy)
        stop(origin)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=parse_size, default=parse_size("2GiB"))
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--rate", type=parse_size, default=parse_size("100MiB"), help="origin bytes/s")
    ap.add_argument("--cache", type=parse_size, default=None, help="cache size (default 2 x size)")
    ap.add_argument("--proxies", default="portcullis,squid,nginx-slice")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per proxy")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--portcullis", default=os.path.join(ROOT, "build", "portcullis"))
    ap.add_argument("--squid", default=shutil.which("squid") or "/usr/sbin/squid")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--work", default=None, help="scratch directory (default: a new temporary one)")
    ap.add_argument("--origin", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--proxy-port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--deadline-s", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.origin:
        run_origin(args.size, args.rate)
        return 0
    if args.client:
        run_client(args.proxy_port, args.url, args.size, args.seed, time.monotonic() + args.deadline_s)
        return 0
    args.cache = args.cache or 2 * args.size
    work = args.work or tempfile.mkdtemp(prefix="update-day-")
    os.chmod(work, 0o755)  # squid runs as user proxy when started as root
    rows, status = [], 0
    print("update day: %d clients x %.0f MiB object, origin %.0f MiB/s, cache %.0f MiB (work: %s)" %
          (args.clients, args.size / MIB, args.rate / MIB, args.cache / MIB, work), flush=True)
    for name in args.proxies.split(","):
        try:
            rows.append(run_one(name, args, work))
        except Exception as e:  # a peer that will not start is a row, not the end of the run
            print("%s: setup failed: %s" % (name, e), file=sys.stderr)
            status = 2
            continue
        print(json.dumps(rows[-1]), flush=True)
    print("\n%-12s %14s %14s %12s %s" % ("proxy", "origin/object", "last client s", "peak RSS MiB", "ok"))
    for r in rows:
        ok = "yes" if r["complete"] and r["bad"] == 0 else "NO (%d bad, %d bytes)" % (r["bad"], r["client_bytes"])
        print("%-12s %14.2f %14.1f %12.1f %s" % (r["proxy"], r["origin_ratio"], r["last_client_s"],
                                               r["peak_rss_mib"], ok))
        if r["bad"]:
            status = max(status, 1)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
