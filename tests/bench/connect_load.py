#!/usr/bin/env python3
"""CONNECT tunnel load with the proxy's own CPU cost beside the throughput.

Same command line and RESULT line as ../shared/bench/tools/connect_bench.py,
so run-peers.sh can run it in that tool's place (tests/bench/run-bench.sh does,
with CONNECT_LOAD=copy or CONNECT_LOAD=discard):

  connect_load.py PROXY_HOST PROXY_PORT TARGET_HOSTPORT PATH EXPECT_LEN
                  CONCURRENCY SECONDS [direct]

Each of CONCURRENCY threads opens one tunnel and repeats keep-alive GETs of
PATH inside it until SECONDS have passed, checking status 200 and the body
length. Two differences from the shared tool:

* CONNECT_LOAD_MODE=discard (the default) reads bodies with MSG_TRUNC: the
  kernel drops the bytes instead of copying them to user space. On a 2-core
  machine the load client and the origin share one core; copying 1 GB/s into
  Python is what saturates it, so the shared tool measures the client, not a
  proxy that has idle time. CONNECT_LOAD_MODE=copy copies like the shared tool.
* It reads the CPU time (utime + stime) of every process holding the
  listening socket on PROXY_PORT before and after the run, and prints it as
  cpu_s and cpu_s_per_gib: the proxy's cost per byte relayed, which does not
  depend on which side ran out of CPU first.
"""
import glob
import os
import socket
import sys
import threading
import time

READ_CHUNK = 1 << 20


def listening_inodes(port):
    """Socket inodes of TCP listeners on PORT (state 0A in /proc/net/tcp{,6})."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except OSError:
            pass
    return inodes


def listener_pids(port):
    wanted = {f"socket:[{i}]" for i in listening_inodes(port)}
    pids = set()
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in wanted:
                pids.add(int(fd.split("/")[2]))
        except OSError:
            pass  # the process or descriptor went away while we looked
    return pids


def cpu_seconds(pids):
    """utime + stime of each process, all its threads included."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total[pid] = (int(fields[11]) + int(fields[12])) / ticks
        except OSError:
            pass
    return total


def read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise IOError("closed")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    return head.decode("latin-1"), bytearray(rest)


def content_length(head):
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value)
    return 0


def main():
    proxy_host, proxy_port, target, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    expect, concurrency, seconds = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    direct = len(sys.argv) > 8 and sys.argv[8] == "direct"
    discard = os.environ.get("CONNECT_LOAD_MODE", "discard") == "discard"
    recv_flags = socket.MSG_TRUNC if discard else 0
    lock = threading.Lock()
    stats = {"bytes": 0, "reqs": 0, "bad": 0, "tun_ok": 0, "tun_err": []}

    def worker(deadline):
        body_bytes = requests = bad = 0
        try:
            sock = socket.create_connection((proxy_host, proxy_port), timeout=30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not direct:
                sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
                head, rest = read_head(sock, bytearray())
                if head.split()[1] != "200":
                    raise IOError("CONNECT answered " + head.split("\r\n")[0])
                if rest:
                    raise IOError("bytes before the first request")
            with lock:
                stats["tun_ok"] += 1
            scratch = bytearray(READ_CHUNK)
            request = f"GET {path} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
            while time.monotonic() < deadline:
                sock.sendall(request)
                head, rest = read_head(sock, bytearray())
                status = int(head.split()[1])
                length = content_length(head)
                if len(rest) > length:
                    raise IOError("bytes after the response (nothing was pipelined)")
                got = len(rest)
                while got < length:
                    n = sock.recv_into(scratch, min(READ_CHUNK, length - got), recv_flags)
                    if n == 0:
                        raise IOError("closed mid-body")
                    got += n
                body_bytes += got
                requests += 1
                if status != 200 or got != expect:
                    bad += 1
            sock.close()
        except Exception as e:  # noqa: BLE001 - every failure is reported in the RESULT line
            with lock:
                stats["tun_err"].append(str(e)[:80])
        with lock:
            stats["bytes"] += body_bytes
            stats["reqs"] += requests
            stats["bad"] += bad

    pids = listener_pids(proxy_port)
    cpu_before = cpu_seconds(pids)
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(started + seconds,)) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    cpu_after = cpu_seconds(pids)
    cpu = sum(cpu_after[p] - cpu_before[p] for p in cpu_after if p in cpu_before)
    gib = stats["bytes"] / (1 << 30)
    error = (" err=" + stats["tun_err"][0].replace(" ", "_")) if stats["tun_err"] else ""
    print("RESULT mib_s=%.1f requests=%d bad=%d tunnels_ok=%d tunnel_err=%d mode=%s "
          "server_pids=%d cpu_s=%.2f cpu_s_per_gib=%s%s" % (
              stats["bytes"] / elapsed / (1 << 20), stats["reqs"], stats["bad"], stats["tun_ok"],
              len(stats["tun_err"]), "discard" if discard else "copy", len(pids), cpu,
              "%.3f" % (cpu / gib) if gib > 0 and pids else "-", error))


if __name__ == "__main__":
    main()
