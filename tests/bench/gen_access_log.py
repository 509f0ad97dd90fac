#!/usr/bin/env python3
"""A school's day of access log, for `portcullis explain --replay`.

Writes OUT_DIR/access.log (N JSON lines in the daemon's access-log format),
OUT_DIR/current.toml (the rules the log was decided by) and
OUT_DIR/candidate.toml (the same plus a games block, staff's rule renamed and
a log-mode rule for pupils' social sites), so a replay has real changes of
each kind to find:

    tests/bench/gen_access_log.py --lines 1000000 /tmp/replay-bench
    time build/portcullis explain --replay /tmp/replay-bench/access.log \\
        -c /tmp/replay-bench/candidate.toml

The mix: 1,200 pupils in 10.20.0.0/16 (two thirds logged in), 120 staff in
10.30.0.0/16, 4,000 host names drawn Zipf-like (a few very popular), 70%
CONNECT to 443, a handful of blocked names, some IP-literal and
denied-before-DNS lines, and a few malformed lines. Fixed seed: the same
file every run.
"""
import argparse
import hashlib
import json
import os
import random
import time

POPULAR = ["www.google.com", "www.youtube.com", "en.wikipedia.org", "www.bbc.co.uk",
           "classroom.google.com", "docs.google.com", "login.microsoftonline.com",
           "www.instagram.com", "www.tiktok.com", "cdn.jsdelivr.net", "fonts.gstatic.com",
           "play.games.example", "www.games.example", "api.games.example"]
BLOCKED = ["casino.example", "www.casino.example", "proxy-unblock.example"]
SOCIAL = ("instagram.com", "tiktok.com")

CONFIG_HEAD = """\
[server]
listen = ["127.0.0.1:3128"]
[sources]
pupils = ["10.20.0.0/16"]
staff = ["10.30.0.0/16"]
[destinations]
web = { hosts = ["*"], ports = [80, 443] }
blocked = { hosts = ["casino.example", "*.casino.example", "proxy-unblock.example"] }
games = { hosts = ["*.games.example"] }
social = { hosts = ["*.instagram.com", "*.tiktok.com"] }
any-port = { hosts = ["*"], ports = ["1-65535"] }
"""

CURRENT_RULES = """
[[rule]]
name = "blocked"
deny = { to = "blocked" }
[[rule]]
name = "staff-web"
allow = { from = "staff", to = "web" }
[[rule]]
name = "pupils-web"
allow = { from = "pupils", to = "web" }
"""

CANDIDATE_RULES = """
[[rule]]
name = "blocked"
deny = { to = "blocked" }
[[rule]]
name = "no-games"
deny = { to = "games" }
[[rule]]
name = "try-social"
mode = "log"
deny = { from = "pupils", to = "social" }
[[rule]]
name = "staff-any-port"
allow = { from = "staff", to = "any-port" }
[[rule]]
name = "pupils-web"
allow = { from = "pupils", to = "web" }
"""


def address_of(host):
    h = hashlib.blake2b(host.encode(), digest_size=4).digest()
    return "151.101.%d.%d" % (h[0], 1 + h[1] % 254)  # public (Fastly), not a special range


def decide(client, host):
    """The current rules, as the daemon applied them: (decision, rule)."""
    if host in BLOCKED or host.endswith(".casino.example"):
        return "deny", "blocked"
    if client.startswith("10.30."):
        return "allow", "staff-web"
    if client.startswith("10.20."):
        return "allow", "pupils-web"
    return "deny", "default-deny"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out_dir, exist_ok=True)
    hosts = POPULAR + BLOCKED + ["site%d.example.%s" % (i, rnd.choice(["com", "org", "net"]))
                                 for i in range(4000)]
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(hosts))]
    rnd.shuffle(weights)  # blocked and popular names spread over the ranks
    for i in range(len(POPULAR)):
        weights[i] = max(weights[i], 0.05)
    pupils = [("10.20.%d.%d" % (i // 250, 1 + i % 250), "p%04d" % i if i % 3 else "")
              for i in range(1200)]
    staff = [("10.30.0.%d" % (1 + i), "t%03d" % i) for i in range(120)]
    head = CONFIG_HEAD
    for name, rules in (("current.toml", CURRENT_RULES), ("candidate.toml", CANDIDATE_RULES)):
        with open(os.path.join(a.out_dir, name), "w") as f:
            f.write(head + rules)
    t0 = 1795860000  # 2026-11-28 10:00 UTC: an 8-hour school day
    with open(os.path.join(a.out_dir, "access.log"), "w") as f:
        chosen = rnd.choices(hosts, weights=weights, k=a.lines)
        for n in range(a.lines):
            if n % 100_000 == 99_999:
                f.write('{"ts":"truncated by a crash\n')
                continue
            client, user = (rnd.choice(staff) if rnd.random() < 0.15 else
                            rnd.choice(pupils) if rnd.random() < 0.98 else
                            ("192.168.%d.%d" % (rnd.randrange(256), rnd.randrange(1, 255)), ""))
            host = chosen[n]
            if rnd.random() < 0.005:
                host = "151.101.200.%d" % rnd.randrange(1, 255)
            connect = rnd.random() < 0.7
            decision, rule = decide(client, host)
            ts = t0 + n * 8 * 3600 / a.lines
            rec = {
                "ts": "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(ts))),
                                    int(ts * 1000) % 1000),
                "client": "%s:%d" % (client, rnd.randrange(1024, 65535)),
                "user": user or None,
                "method": "CONNECT" if connect else rnd.choice(["GET"] * 9 + ["POST"]),
                "url": "%s:443" % host if connect else
                       "http://%s/%s" % (host, "page/%d" % rnd.randrange(1000)),
                "status": (200 if decision == "allow" else 403),
                "bytes_in": rnd.randrange(200, 2000), "bytes_out": rnd.randrange(300, 500000),
                "upstream_bytes": 0, "cache": "NONE", "slice": None,
                "decision": decision, "rule": rule,
                "rule_where": "current.toml:%d" % (20 + len(rule)),
            }
            literal = host[0].isdigit()
            if decision == "allow" and not literal:
                rec["addresses"] = [address_of(host)]
            rec.update({"duration_ms": round(rnd.random() * 300, 3),
                        "upstream": ("%s:%d" % (host if literal else address_of(host),
                                                443 if connect else 80))
                        if decision == "allow" else None,
                        "error": None, "termination": "completed" if decision == "allow"
                        else "denied_by_rule", "sni": None, "alpn": None,
                        "mode": "explicit"})
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
