#!/usr/bin/env python3
"""Byte-hit ratio of real proxies on one replayed Zipf trace (issue #4).

Generates the trace of eviction_sim.cpp (same splitmix64 generator, seed,
size mix and Zipf ranks), replays it in order over one keep-alive client
connection through each proxy in turn, against a local origin
(byte_hit_origin.py) that counts the body bytes it sends.  The cache of every
proxy is the same fraction (default 10 %) of the trace's working set.

    byte_hit_replay.py [--alphas 0.8,1.0] [--objects 1500] [--requests 20000]
                       [--proxies portcullis-lru,portcullis-s3fifo,squid-lru]

    byte-hit ratio = 1 - origin body bytes / client body bytes

over the measured part of the trace: every request after the first
--warmup-fraction (default 10 %) of it.  The whole-trace figure (no warm-up,
what eviction_sim prints) is in the results file too.

Columns (--proxies): portcullis-lru, portcullis-s3fifo (Portcullis,
`eviction = ...`); squid-lru, squid-gdsf, squid-lfuda (squid ufs disk cache,
cache_mem 0, `cache_replacement_policy lru / heap GDSF / heap LFUDA`);
squid-lru-mem (the same disk cache plus squid's default 256 MB memory cache:
more cache than the others, shown for reference only).

Not a test (no ctest registration); exits 1 if any response was wrong
(status, length, or the body's head/tail naming another object), 2 on a
setup failure.  Every process it starts runs in its own session and is
stopped by process group.
"""
import argparse
import bisect
import http.client
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MIB = 1024 * 1024
EDGE = 32  # head/tail bytes that name the object, see byte_hit_origin.py
MAX_ERRORS = 20  # a replay stops after this many wrong responses


# --- the trace: a port of eviction_sim.cpp's generator ----------------------

_M64 = (1 << 64) - 1


class Rng:
    """splitmix64, bit for bit as in eviction_sim.cpp."""

    def __init__(self, seed):
        self.state = seed & _M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)


def object_size(rng):
    """Web-like mix: 70 % 1-20 KiB, 25 % 20-500 KiB, 5 % 0.5-10 MiB."""
    p = rng.uniform()
    u = rng.uniform()
    if p < 0.70:
        return 1024 + int(u * 19 * 1024)
    if p < 0.95:
        return 20 * 1024 + int(u * 480 * 1024)
    return 512 * 1024 + int(u * 9.5 * 1024 * 1024)


def make_trace(objects, requests, alpha, one_hit_share, seed):
    """[(id, size)]: Zipf(alpha) ranks, plus one_hit_share never-repeated ids."""
    rng = Rng(seed)
    sizes = [object_size(rng) for _ in range(objects)]
    cdf = []
    total = 0.0
    for i in range(objects):
        total += 1.0 / math.pow(float(i + 1), alpha)
        cdf.append(total)
    trace = []
    next_unique = objects
    for _ in range(requests):
        if rng.uniform() < one_hit_share:
            trace.append((next_unique, object_size(rng)))
            next_unique += 1
            continue
        rank = bisect.bisect_left(cdf, rng.uniform() * total)
        obj = min(rank, objects - 1)
        trace.append((obj, sizes[obj]))
    return trace


def working_set_bytes(trace):
    return sum(dict(trace).values())


# --- processes ---------------------------------------------------------------


def free_port():
    """An ephemeral loopback port (the kernel's range, never 18080-18095)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, deadline_s):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on 127.0.0.1:%d after %ss" % (port, deadline_s))


def start(argv, log_path, **kw):
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(argv, stdout=kw.pop("stdout", log), stderr=log, start_new_session=True, **kw)
    finally:
        log.close()


def stop(proc, grace_s=10):
    """SIGTERM to the process group we created, SIGKILL after grace_s."""
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


def render(template, out_path, values):
    with open(os.path.join(HERE, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise RuntimeError("%s: unfilled %s" % (template, leftover))
    with open(out_path, "w") as f:
        f.write(text)


class Origin:
    def __init__(self, log_dir):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "byte_hit_origin.py")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(log_dir, "origin.log"), "ab"),
            start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("port "):
            stop(self.proc)
            raise RuntimeError("origin did not start: %r" % line)
        self.port = int(line.split()[1])

    def stats(self, deadline_s=10):
        """Counters once no response is half-sent (polls in_flight == 0)."""
        end = time.monotonic() + deadline_s
        while True:
            with urllib.request.urlopen("http://127.0.0.1:%d/stats" % self.port, timeout=5) as r:
                s = json.load(r)
            if s["in_flight"] == 0:
                return s
            if time.monotonic() > end:
                raise RuntimeError("origin still sending after %ss: %r" % (deadline_s, s))
            time.sleep(0.01)

    def close(self):
        stop(self.proc)


class Portcullis:
    def __init__(self, binary, eviction):
        self.binary = binary
        self.eviction = eviction
        self.proc = None

    def start(self, scratch, origin_port, cache_mib):
        self.port, self.admin_port = free_port(), free_port()
        conf = os.path.join(scratch, "portcullis.toml")
        render("byte_hit.toml.in", conf, {
            "PORT": self.port, "ADMIN_PORT": self.admin_port, "DIR": scratch, "ORIGIN_PORT": origin_port,
            "MAX_SIZE": "%d MiB" % cache_mib, "EVICTION": self.eviction})
        argv = [self.binary, "run", "-c", conf] + (["--allow-root"] if os.geteuid() == 0 else [])
        self.proc = start(argv, os.path.join(scratch, "portcullis.out"), cwd=scratch)
        wait_for_port(self.port, self.proc, 20)

    def cache_bytes(self):
        url = "http://127.0.0.1:%d/metrics" % self.admin_port
        with urllib.request.urlopen(url, timeout=5) as r:
            m = re.search(rb"^portcullis_cache_size_bytes (\d+)", r.read(), re.M)
        return int(m.group(1)) if m else None

    def stop(self):
        stop(self.proc)


class Squid:
    def __init__(self, binary, policy, cache_mem):
        self.binary = binary
        self.policy = policy
        self.cache_mem = cache_mem
        self.proc = None

    def start(self, scratch, origin_port, cache_mib, swap_low, swap_high):
        self.port = free_port()
        conf = os.path.join(scratch, "squid.conf")
        render("byte_hit_squid.conf.in", conf, {
            "PORT": self.port, "DIR": scratch, "CACHE_MIB": cache_mib, "CACHE_MEM": self.cache_mem,
            "POLICY": self.policy, "SWAP_LOW": swap_low, "SWAP_HIGH": swap_high})
        if os.geteuid() == 0:  # squid drops to user proxy: it must own its files
            shutil.chown(scratch, "proxy", "proxy")
        log = os.path.join(scratch, "squid.out")
        init = start([self.binary, "-N", "-z", "-f", conf], log, cwd=scratch)
        try:
            if init.wait(60) != 0:
                raise RuntimeError("squid -z failed, see %s" % log)
        except subprocess.TimeoutExpired:
            stop(init)
            raise
        self.proc = start([self.binary, "-N", "-f", conf], log, cwd=scratch)
        wait_for_port(self.port, self.proc, 30)

    def cache_bytes(self):
        """Squid's own count of its cache_dir (in KB, file-system blocks)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/squid-internal-mgr/storedir")
            body = conn.getresponse().read()
        finally:
            conn.close()
        m = re.search(rb"Current Size:\s*([\d.]+) KB", body)
        return int(float(m.group(1)) * 1024) if m else None

    def stop(self):
        stop(self.proc)


# --- the replay ----------------------------------------------------------------


class Client:
    """One keep-alive connection; sends absolute-form GETs in trace order."""

    def __init__(self, proxy_port, origin_port, timeout_s):
        self.proxy_port = proxy_port
        self.origin = "127.0.0.1:%d" % origin_port
        self.timeout_s = timeout_s
        self.conn = None
        self.connections = 0
        self.buf = memoryview(bytearray(16 * MIB))

    def fetch(self, obj, size):
        """None when the response is the right object, else what was wrong."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=self.timeout_s)
            self.connections += 1
        try:
            c = self.conn
            c.putrequest("GET", "http://%s/obj/%d/%d" % (self.origin, obj, size),
                         skip_host=True, skip_accept_encoding=True)
            c.putheader("Host", self.origin)
            c.endheaders()
            resp = c.getresponse()
            if resp.status != 200:
                resp.read()
                return "status %d" % resp.status
            got = 0
            while got < size:
                n = resp.readinto(self.buf[got:size])
                if not n:
                    break
                got += n
            extra = len(resp.read(1))
            if got != size or extra:
                return "body %d%s bytes, want %d" % (got, "+" if extra else "", size)
            head, tail = bytes(self.buf[:EDGE]), bytes(self.buf[size - EDGE:size])
            if not head.startswith(b"H %d %d." % (obj, size)) or not tail.startswith(b"T %d %d." % (obj, size)):
                return "wrong body: %r ... %r" % (head, tail)
            if resp.will_close:
                self.close()
            return None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return "%s: %s" % (type(e).__name__, e)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def replay(proxy, origin, trace, warmup, sample_every, deadline_s):
    client = Client(proxy.port, origin.port, timeout_s=60)
    errors = []
    samples = []
    client_bytes = 0
    before = origin.stats()
    at_warmup = None
    done = 0  # requests sent
    t0 = time.monotonic()
    try:
        for i, (obj, size) in enumerate(trace):
            if i == warmup:
                at_warmup = (origin.stats(), client_bytes, i)
            if time.monotonic() - t0 > deadline_s:
                errors.append("replay stopped at request %d: over %ss" % (i, deadline_s))
                break
            err = client.fetch(obj, size)
            done += 1
            if err:
                errors.append("request %d (/obj/%d/%d): %s" % (i, obj, size, err))
                if len(errors) >= MAX_ERRORS:
                    break
                continue
            client_bytes += size
            if sample_every and (i + 1) % sample_every == 0:
                samples.append(proxy.cache_bytes())
    finally:
        client.close()
    elapsed = time.monotonic() - t0
    after = origin.stats()
    if at_warmup is None:
        at_warmup = (after, client_bytes, done)
    w_stats, w_client_bytes, w_index = at_warmup

    def ratio(origin_bytes, cbytes):
        return 1.0 - origin_bytes / cbytes if cbytes else float("nan")

    measured_requests = done - w_index
    return {
        "requests": done,
        "errors": errors,
        "connections": client.connections,
        "seconds": elapsed,
        "client_bytes": client_bytes,
        "origin_bytes": after["body_bytes"] - before["body_bytes"],
        "origin_requests": after["requests"] - before["requests"],
        "byte_hit": ratio(after["body_bytes"] - w_stats["body_bytes"], client_bytes - w_client_bytes),
        "object_hit": (1.0 - (after["requests"] - w_stats["requests"]) / measured_requests
                       if measured_requests else float("nan")),
        "byte_hit_whole": ratio(after["body_bytes"] - before["body_bytes"], client_bytes),
        "object_hit_whole": 1.0 - (after["requests"] - before["requests"]) / done if done else float("nan"),
        "cache_samples": [s for s in samples if s is not None],
    }


# --- main ------------------------------------------------------------------------

COLUMNS = ("portcullis-lru", "portcullis-s3fifo", "squid-lru", "squid-gdsf", "squid-lfuda", "squid-lru-mem")


def make_proxy(name, args):
    if name == "portcullis-lru":
        return Portcullis(args.portcullis, "lru")
    if name == "portcullis-s3fifo":
        return Portcullis(args.portcullis, "s3fifo")
    if name == "squid-lru":
        return Squid(args.squid, "lru", "0 MB")
    if name == "squid-gdsf":
        return Squid(args.squid, "heap GDSF", "0 MB")
    if name == "squid-lfuda":
        return Squid(args.squid, "heap LFUDA", "0 MB")
    if name == "squid-lru-mem":
        return Squid(args.squid, "lru", "256 MB")
    raise ValueError(name)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alphas", default="0.8,1.0", help="Zipf exponents, one table row each")
    ap.add_argument("--objects", type=int, default=1500, help="Zipf population (eviction_sim: 100000)")
    ap.add_argument("--requests", type=int, default=20000, help="requests per replay")
    ap.add_argument("--one-hit", type=float, default=0.0, help="share of requests to never-repeated objects")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cache-fraction", type=float, default=0.10, help="cache size / working set")
    ap.add_argument("--warmup-fraction", type=float, default=0.10, help="leading share of the trace not measured")
    ap.add_argument("--proxies", default="portcullis-lru,portcullis-s3fifo,squid-lru",
                    help="columns, from: " + ", ".join(COLUMNS))
    ap.add_argument("--squid-swap", default="90,95",
                    help="squid cache_swap_low,cache_swap_high (squid's defaults: 90,95)")
    ap.add_argument("--sample-every", type=int, default=500,
                    help="ask the proxy how full its cache is every N requests (0: never)")
    ap.add_argument("--portcullis", default=os.path.join(ROOT, "build", "portcullis"))
    ap.add_argument("--squid", default="/usr/sbin/squid")
    ap.add_argument("--scratch", default=None, help="parent of the per-run scratch dirs (default: a new /tmp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch dirs (configs, logs, caches)")
    ap.add_argument("--out", default=os.path.join(HERE, "run", "byte-hit-results.txt"))
    ap.add_argument("--repeat", type=int, default=1,
                    help="replays per proxy and alpha, each with a fresh proxy (squid's figures vary run to run)")
    ap.add_argument("--max-seconds", type=float, default=900, help="time limit per replay")
    args = ap.parse_args()
    args.alphas = [float(a) for a in args.alphas.split(",")]
    args.proxies = args.proxies.split(",")
    for p in args.proxies:
        if p not in COLUMNS:
            ap.error("unknown proxy %r" % p)
    args.squid_swap = [int(x) for x in args.squid_swap.split(",")]
    if not (0 <= args.warmup_fraction < 1 and 0 < args.cache_fraction <= 1 and args.requests > 0 and 1 <= args.repeat <= 10):
        ap.error("bad fractions or request count")
    return args


def run_one(name, run, alpha, trace, warmup, cache_mib, origin, scratch_root, args):
    """One replay through a freshly started proxy with an empty cache."""
    scratch = os.path.join(scratch_root, "%s-a%.2f-%d" % (name, alpha, run))
    os.makedirs(scratch)
    proxy = make_proxy(name, args)
    try:
        if isinstance(proxy, Squid):
            proxy.start(scratch, origin.port, cache_mib, *args.squid_swap)
        else:
            proxy.start(scratch, origin.port, cache_mib)
        return replay(proxy, origin, trace, warmup, args.sample_every, args.max_seconds)
    except RuntimeError as e:
        return {"errors": ["setup: %s" % e]}
    finally:
        proxy.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def spread(values):
    """"12.34%", or the median and range of several runs."""
    if not values:
        return "-"
    if len(values) == 1:
        return fmt_pct(values[0])
    v = sorted(values)
    mid = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return "%s (%.1f-%.1f)" % (fmt_pct(mid), 100 * v[0], 100 * v[-1])


def fmt_pct(x):
    return "%.2f%%" % (100 * x) if x == x else "-"


def occupancy(samples, cache_mib):
    if not samples:
        return "-"
    cap = cache_mib * MIB
    return "mean %.0f%% max %.0f%%" % (100 * sum(samples) / len(samples) / cap, 100 * max(samples) / cap)


def main():
    args = parse_args()
    for p in args.proxies:
        binary = args.portcullis if p.startswith("portcullis") else args.squid
        if not os.access(binary, os.X_OK):
            print("not executable: %s" % binary, file=sys.stderr)
            return 2
    scratch_root = tempfile.mkdtemp(prefix="byte-hit-", dir=args.scratch)
    os.chmod(scratch_root, 0o755)  # squid runs as user proxy below it
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say("byte_hit_replay.py %s" % " ".join(sys.argv[1:]))
    say("objects=%d requests=%d one-hit=%.0f%% seed=%d cache=%.0f%% of working set, warm-up=first %.0f%% of "
        "requests, squid cache_swap_low/high=%d/%d" % (
            args.objects, args.requests, 100 * args.one_hit, args.seed, 100 * args.cache_fraction,
            100 * args.warmup_fraction, *args.squid_swap))
    table = {}
    failed = False
    origin = Origin(scratch_root)
    try:
        for alpha in args.alphas:
            trace = make_trace(args.objects, args.requests, alpha, args.one_hit, args.seed)
            ws = working_set_bytes(trace)
            cache_mib = max(1, round(ws * args.cache_fraction / MIB))
            warmup = int(len(trace) * args.warmup_fraction)
            say("alpha=%.2f: working set %.1f MiB in %d objects, %d requests, %.2f GiB of bodies, cache %d MiB" % (
                alpha, ws / MIB, len(dict(trace)), len(trace), sum(s for _, s in trace) / 2**30, cache_mib))
            for name in args.proxies:
                for run in range(args.repeat):
                    r = run_one(name, run, alpha, trace, warmup, cache_mib, origin, scratch_root, args)
                    table.setdefault((alpha, name), []).append(r)
                    if r["errors"]:
                        failed = True
                        for e in r["errors"]:
                            say("  %s: ERROR %s" % (name, e))
                    if "byte_hit" in r:
                        say("  %-18s byte-hit %7s  object-hit %7s | whole trace: byte-hit %7s object-hit %7s | "
                            "%d req in %.0f s, %d conn, origin %.2f GiB | cache fill %s" % (
                                name, fmt_pct(r["byte_hit"]), fmt_pct(r["object_hit"]),
                                fmt_pct(r["byte_hit_whole"]), fmt_pct(r["object_hit_whole"]), r["requests"],
                                r["seconds"], r["connections"], r["origin_bytes"] / 2**30,
                                occupancy(r["cache_samples"], cache_mib)))
    finally:
        origin.close()
        if not args.keep:
            shutil.rmtree(scratch_root, ignore_errors=True)

    say()
    say("byte-hit ratio (after warm-up)")
    say("%-8s" % "alpha" + "".join("%24s" % p for p in args.proxies))
    for alpha in args.alphas:
        cells = []
        for p in args.proxies:
            runs = table.get((alpha, p), [])
            cell = spread([r["byte_hit"] for r in runs if "byte_hit" in r])
            cells.append("%24s" % (cell + ("!" if any(r["errors"] for r in runs) else "")))
        say("%-8.2f" % alpha + "".join(cells))
    if args.repeat > 1:
        say("(median of %d runs, min-max in brackets)" % args.repeat)
    if failed:
        say("! = at least one wrong response or a setup failure (see above)")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("written to %s" % args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
