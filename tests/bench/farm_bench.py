#!/usr/bin/env python3
"""Per-core figures for the README's "Scaling" section (issue #18): one node,
its worker pinned to one core, measured directly and then behind HAProxy
running the shipped packaging/haproxy/portcullis-farm.cfg (one server), in
the same run. Not run by CI.

  tests/bench/farm_bench.py [--seconds 8] [--build build]

Scenarios (loopback only; every process it starts is stopped by its pid):
  hit     wrk, 50 connections, GET of a cached 1 KiB object (absolute URI)
  relay   wrk, 50 connections, GET of a 1 KiB "no-store" object: every request
          goes to the origin (a Debian nginx started with its own config)
  tunnel  tests/bench/connect_load.py: 8 CONNECT tunnels, keep-alive GETs of
          1 MiB inside each (bodies dropped in the kernel)
  new tunnels  8 Python threads: CONNECT, one 1 KiB GET inside, close (the
          client is slower than the node: read the CPU columns, not the rate)

For each it prints the rate and the CPU time the node and HAProxy used per
request (or per GiB): the CPU figures are what the sizing example uses, the
rates depend on what else the machine was doing. The node runs on CPU 1,
everything else (wrk, nginx, haproxy) on CPU 0.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ORIGIN, NODE, ADMIN, FRONT = 18180, 18190, 18191, 18192
BALANCER = "127.0.0.3"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def wait_port(port, proc, deadline=15):
    end = time.monotonic() + deadline
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                sys.exit("port %d never opened (exit %s)" % (port, proc.poll()))
            time.sleep(0.05)


class Farm:
    def __init__(self, run, build):
        self.run, self.procs = run, []
        www = os.path.join(run, "www")
        for d in ("hit", "relay", "big"):
            os.makedirs(os.path.join(www, d), exist_ok=True)
        for d in ("hit", "relay"):
            with open(os.path.join(www, d, "1k"), "wb") as f:
                f.write(b"x" * 1024)
        with open(os.path.join(www, "big", "1m"), "wb") as f:
            f.write(b"y" * (1 << 20))
        self.nginx = self.start("nginx", ["taskset", "-c", "0", "nginx", "-p", run, "-e", "stderr",
                                          "-c", self.nginx_conf(www)], ORIGIN)
        self.node = self.start("node", ["taskset", "-c", "1", os.path.join(build, "portcullis"), "run",
                                        "-c", self.node_conf(), "--allow-root"], NODE)
        self.haproxy = self.start("haproxy", ["taskset", "-c", "0", "haproxy", "-db", "-f",
                                              self.haproxy_conf()], FRONT)

    def start(self, name, cmd, port):
        log = open(os.path.join(self.run, name + ".log"), "wb")
        p = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        self.procs.append(p)
        wait_port(port, p)
        return p

    def write(self, name, text):
        path = os.path.join(self.run, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def nginx_conf(self, www):
        tmp = self.run
        return self.write("nginx.conf", f"""
daemon off; master_process off; worker_processes 1; pid {tmp}/nginx.pid;
error_log stderr;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/t1; proxy_temp_path {tmp}/t2; fastcgi_temp_path {tmp}/t3;
  uwsgi_temp_path {tmp}/t4; scgi_temp_path {tmp}/t5;
  server {{
    listen 127.0.0.1:{ORIGIN};
    root {www};
    location /hit/ {{ add_header Cache-Control "max-age=86400"; }}
    location /big/ {{ add_header Cache-Control "max-age=86400"; }}
    location /relay/ {{ add_header Cache-Control "no-store"; }}
  }}
}}
""")

    def node_conf(self):
        return self.write("portcullis.toml", f"""
[server]
listen = ["127.0.0.1:{NODE}"]
workers = 1
max_connections = 20000
max_connections_per_client = 20000
proxy_protocol_from = ["{BALANCER}/32"]

[log]
access = ""
events = "{self.run}/events.log"

[admin]
listen = "127.0.0.1:{ADMIN}"
allow = ["127.0.0.1/32", "{BALANCER}/32"]

[cache]
enabled = true
dir = "{self.run}/cache"
max_size = "1 GiB"
max_object_size = "64 MiB"
min_free_disk = "0 B"

[sources]
bench = ["127.0.0.1/32"]

[destinations]
origin = {{ cidrs = ["127.0.0.0/8"], ports = [{ORIGIN}] }}

[[rule]]
name = "bench"
allow = {{ from = "bench", to = "origin" }}
""")

    def haproxy_conf(self):
        text = open(os.path.join(ROOT, "packaging", "haproxy", "portcullis-farm.cfg")).read()
        text = re.sub(r"^    log /dev/log .*$", "", text, flags=re.M)
        text = re.sub(r"^    stats socket .*$", "", text, flags=re.M)
        text = re.sub(r"^    maxconn 20000$", "    maxconn 4000", text, flags=re.M)
        text = text.replace("    bind :3128", f"    bind 127.0.0.1:{FRONT}")
        text = text.replace(" check port 3129 ", f" check port {ADMIN} ")
        text = re.sub(r"^    server node[23] .*$", "", text, flags=re.M)
        text = re.sub(r"10\.0\.0\.11:3128 id 1", f"127.0.0.1:{NODE} id 1 source {BALANCER}", text)
        return self.write("haproxy.cfg", text)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def measure(farm, fn):
    before = cpu_seconds(farm.node.pid), cpu_seconds(farm.haproxy.pid)
    count, unit, rate = fn()
    after = cpu_seconds(farm.node.pid), cpu_seconds(farm.haproxy.pid)
    return rate, unit, (after[0] - before[0]) / count, (after[1] - before[1]) / count


def wrk(farm, port, path, seconds):
    # Host must match the URI's authority: HAProxy answers 400 otherwise.
    script = farm.write("req.lua", 'request = function() return wrk.format("GET", '
                        '"http://127.0.0.1:%d%s", {Host = "127.0.0.1:%d"}) end\n' % (ORIGIN, path, ORIGIN))
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", "-c50", "-d%ds" % seconds, "-s", script,
                          "http://127.0.0.1:%d/" % port], capture_output=True, text=True,
                         timeout=seconds + 30).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if bad or errors:
        sys.exit("wrk saw errors:\n" + out)
    return total, "req", total / seconds


def tunnel(farm, port, seconds):
    out = subprocess.run(["taskset", "-c", "0", sys.executable, os.path.join(HERE, "connect_load.py"),
                          "127.0.0.1", str(port), "127.0.0.1:%d" % ORIGIN, "/big/1m", str(1 << 20), "8",
                          str(seconds)], capture_output=True, text=True, timeout=seconds + 60,
                         env=dict(os.environ, CONNECT_LOAD_MODE="discard")).stdout
    m = re.search(r"RESULT mib_s=([\d.]+) requests=(\d+) bad=(\d+)", out)
    if not m or m.group(3) != "0":
        sys.exit("connect_load failed:\n" + out)
    gib = int(m.group(2)) / 1024
    return gib, "GiB", float(m.group(1))


def tunnel_setups(farm, port, seconds, threads=8):
    """New tunnels: CONNECT, one 1 KiB GET inside, close; counts whole tunnels."""
    import threading
    done, bad, end = [0] * threads, [], time.monotonic() + seconds
    target = b"127.0.0.1:%d" % ORIGIN
    connect = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)
    get = b"GET /hit/1k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    def one(k):
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    s.sendall(connect)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = s.recv(4096)
                        if not chunk:
                            raise OSError("closed before the CONNECT answer")
                        head += chunk
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise OSError(head[:80])
                    s.sendall(get)
                    out = head.split(b"\r\n\r\n", 1)[1]
                    while chunk := s.recv(65536):
                        out += chunk
                    if not out.startswith(b"HTTP/1.1 200") or not out.endswith(b"x" * 1024):
                        raise OSError(out[:80])
                done[k] += 1
            except OSError as e:
                bad.append(repr(e))
    ts = [threading.Thread(target=one, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if bad:
        sys.exit("tunnel setups failed: %s" % bad[:3])
    return sum(done), "req", sum(done) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "haproxy", "taskset"):
        if not shutil.which(tool):
            sys.exit("needs %s" % tool)
    run = tempfile.mkdtemp(prefix="farm-bench-")
    farm = Farm(run, args.build)
    try:
        wrk(farm, NODE, "/hit/1k", 1)  # fills the cache
        rows = []
        for name, fn in (("hit 1 KiB", lambda port: wrk(farm, port, "/hit/1k", args.seconds)),
                         ("relay 1 KiB", lambda port: wrk(farm, port, "/relay/1k", args.seconds)),
                         ("tunnel 1 MiB", lambda port: tunnel(farm, port, args.seconds)),
                         ("new tunnels", lambda port: tunnel_setups(farm, port, args.seconds))):
            direct = measure(farm, lambda: fn(NODE))
            front = measure(farm, lambda: fn(FRONT))
            rows.append((name, direct, front))
        print("| scenario | direct: rate | node CPU | via HAProxy: rate | node CPU | HAProxy CPU |")
        print("|---|---|---|---|---|---|")
        for name, d, f in rows:
            if d[1] == "req":
                per = "tunnel" if name == "new tunnels" else "req"
                fmt = lambda r: "%.0f %s/s" % (r[0], per)  # noqa: E731
                cpu = lambda s: "%.1f µs/%s" % (s * 1e6, per)  # noqa: E731
            else:
                fmt = lambda r: "%.0f MiB/s" % r[0]  # noqa: E731
                cpu = lambda s: "%.2f s/GiB" % s  # noqa: E731
            print("| %s | %s | %s | %s | %s | %s |" % (name, fmt(d), cpu(d[2]), fmt(f), cpu(f[2]), cpu(f[3])))
    finally:
        farm.stop()
        if os.environ.get("KEEP") is None:
            shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    main()
