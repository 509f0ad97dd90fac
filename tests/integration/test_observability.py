"""Logs, /status, /metrics and the status page, against the real binary.

Every access-log line is parsed with json.loads; /metrics goes through a
strict exposition-format parser (and promtool when it is installed); the
status page is loaded in headless Chromium so its script really runs.
"""
import http.client
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from harness import Proxy, base_config, curl, free_port, raw_exchange, status_of
from origin import body_of_size

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CLIENT = re.compile(r"^127\.0\.0\.1:\d{1,5}$")
ACCESS_KEYS = {"ts", "client", "user", "method", "url", "status", "bytes_in", "bytes_out",
               "upstream_bytes", "cache", "slice", "decision", "rule", "rule_where", "duration_ms",
               "upstream", "parent", "error", "termination", "sni", "alpn", "mode"}
TERMINATIONS = {"completed", "denied_by_rule", "destination_prohibited", "rate_limited",
                "bad_request", "not_a_proxy_request", "method_not_supported",
                "https_without_connect", "forwarding_loop", "client_timeout", "client_closed",
                "dns_error", "dns_timeout", "connect_refused", "connect_timeout", "origin_timeout",
                "origin_closed", "bad_origin_response", "origin_body_broken", "not_in_cache",
                "precondition_failed", "storage_error", "transparent_mismatch",
                "auth_required", "auth_unavailable", "closed_by_policy"}
CACHE_RESULTS = {"NONE", "HIT", "MISS", "REVALIDATED", "STALE", "COLLAPSED", "BYPASS", "PARTIAL"}
MAX_CONNECTIONS = 777


# ---------------------------------------------------------------- helpers


def obs_config(origin, tmp_path, denied_port, cache=False):
    """base_config plus a named deny rule for one port, a connection limit,
    and optionally the disk cache."""
    extra = f"""
[destinations.forbidden]
cidrs = ["127.0.0.0/8"]
ports = [{denied_port}]

[[rule]]
name = "no-forbidden-port"
deny = {{ to = "forbidden" }}
"""
    if cache:
        extra += f"""
[cache]
enabled = true
dir = "{tmp_path}/cache"
max_size = "64 MiB"
max_object_size = "32 MiB"
min_free_disk = "0 B"
"""
    text = base_config([origin.port], extra=extra, log_dir=str(tmp_path))
    return text.replace("workers = 1\n", f"workers = 1\nmax_connections = {MAX_CONNECTIONS}\n", 1)


@pytest.fixture
def denied_port():
    return free_port()


@pytest.fixture
def proxy(origin, tmp_path, denied_port):
    p = Proxy(obs_config(origin, tmp_path, denied_port), tmpdir=str(tmp_path))
    yield p
    p.stop()


@pytest.fixture
def cache_proxy(origin, tmp_path, denied_port):
    p = Proxy(obs_config(origin, tmp_path, denied_port, cache=True), tmpdir=str(tmp_path))
    yield p
    p.stop()


def admin_get(proxy, path, method="GET"):
    """One request to the admin listener; returns (status, headers, body)."""
    assert proxy.admin, "no admin address in the ready event"
    host, port = proxy.admin.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def status_json(proxy):
    code, headers, body = admin_get(proxy, "/status")
    assert code == 200
    assert headers["content-type"].startswith("application/json")
    return json.loads(body)


def poll(what, fn, deadline=10.0):
    """Calls fn until it returns something truthy; fails after the deadline."""
    end = time.monotonic() + deadline
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError("timed out waiting for " + what)
        time.sleep(0.05)  # polling with a deadline


def read_log(path):
    """Every line of a JSON-lines file, strictly: UTF-8, one object per line."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    assert data == b"" or data.endswith(b"\n"), "log does not end with a newline"
    text = data.decode("utf-8")  # strict: a raw 0x80-0xff byte fails here
    return [json.loads(line) for line in text.split("\n")[:-1]]


def log_lines(proxy, n, name="access.log", deadline=10.0):
    path = os.path.join(proxy.tmp, name)
    return poll("%d lines in %s" % (n, name), lambda: (lambda l: l if len(l) >= n else None)(read_log(path)),
                deadline)


def check_access_line(line):
    """Field set and types every access-log line must have."""
    # Only when set: the addresses the rules checked, a log-mode rule's match.
    optional = set(line) & {"addresses", "would_deny", "would_allow"}
    assert set(line) - optional == ACCESS_KEYS, sorted((set(line) - optional) ^ ACCESS_KEYS)
    if "addresses" in line:
        assert line["addresses"] and all(isinstance(a, str) for a in line["addresses"])
    assert isinstance(line["ts"], str) and RFC3339_MS.match(line["ts"]), line["ts"]
    assert isinstance(line["client"], str) and CLIENT.match(line["client"]), line["client"]
    assert line["user"] is None
    assert isinstance(line["method"], str) and line["method"]
    assert isinstance(line["url"], str)
    for k in ("status", "bytes_in", "bytes_out", "upstream_bytes"):
        assert type(line[k]) is int and line[k] >= 0, (k, line[k])
    assert line["cache"] in CACHE_RESULTS
    assert line["slice"] in (None, "sliced", "unsupported", "changed")
    assert line["decision"] in ("allow", "deny")
    assert isinstance(line["rule"], str)
    assert line["rule_where"] is None or isinstance(line["rule_where"], str)
    assert type(line["duration_ms"]) in (int, float) and line["duration_ms"] >= 0
    assert line["upstream"] is None or isinstance(line["upstream"], str)
    assert line["parent"] is None  # no [[parent]] here (test_parent.py)
    assert line["error"] is None or isinstance(line["error"], str)
    assert line["termination"] in TERMINATIONS, line["termination"]
    assert line["mode"] == "explicit"  # test_transparent.py checks "transparent"


def via_proxy(proxy, url, extra=()):
    r = curl(["-x", proxy.url] + list(extra) + [url])
    assert r.returncode == 0, r.stderr
    return r.stdout


# ---------------------------------------------------------------- access log

def test_each_kind_of_request_logs_one_wellformed_line(cache_proxy, origin, denied_port):
    p = cache_proxy
    origin_addr = "127.0.0.1:%d" % origin.port
    # 1. a MISS that gets stored, 2. the HIT for it
    url = origin.url("/c/obs?size=20000")
    assert via_proxy(p, url) == body_of_size(20000, seed=b"/c/obs")
    assert via_proxy(p, url) == body_of_size(20000, seed=b"/c/obs")
    # 3. a denial by a named rule
    r = curl(["-x", p.url, "-o", "/dev/null", "-w", "%{http_code}",
              "http://127.0.0.1:%d/secret" % denied_port])
    assert r.stdout == b"403"
    # 4. a CONNECT tunnel
    assert via_proxy(p, origin.url("/size/30000"), ["-p"]) == body_of_size(30000)

    lines = log_lines(p, 4)
    assert len(lines) == 4, lines
    for line in lines:
        check_access_line(line)
    miss, hit, deny, tunnel = lines

    assert (miss["method"], miss["url"], miss["status"]) == ("GET", url, 200)
    assert miss["cache"] == "MISS" and miss["decision"] == "allow"
    assert miss["rule"] == "local-to-origin"
    assert miss["upstream"] == origin_addr and miss["error"] is None
    assert miss["bytes_out"] >= 20000 and miss["upstream_bytes"] >= 20000
    assert miss["bytes_in"] > len("GET  HTTP/1.1\r\n\r\n") + len(url)

    assert (hit["url"], hit["status"], hit["cache"]) == (url, 200, "HIT")
    assert hit["bytes_out"] >= 20000 and hit["upstream_bytes"] == 0
    assert hit["upstream"] is None and hit["error"] is None

    assert deny["status"] == 403 and deny["decision"] == "deny"
    assert deny["rule"] == "no-forbidden-port"
    assert deny["rule_where"] and deny["rule_where"].endswith(".toml:%d" % rule_line(p, "no-forbidden-port"))
    assert deny["url"] == "http://127.0.0.1:%d/secret" % denied_port
    assert deny["upstream"] is None and deny["upstream_bytes"] == 0
    assert deny["cache"] == "NONE" and deny["bytes_out"] > 0
    assert deny["termination"] == "denied_by_rule"
    assert miss["termination"] == hit["termination"] == tunnel["termination"] == "completed"

    assert tunnel["method"] == "CONNECT" and tunnel["url"] == origin_addr
    assert tunnel["status"] == 200 and tunnel["cache"] == "NONE"
    assert tunnel["upstream"] == origin_addr and tunnel["decision"] == "allow"
    # the tunnelled bytes are counted both ways
    assert tunnel["bytes_out"] >= 30000 and tunnel["upstream_bytes"] >= 30000
    assert tunnel["bytes_in"] > 0


def rule_line(proxy, name):
    """1-based line of the [[rule]] header of the rule called `name`."""
    with open(proxy.config_path) as f:
        text = f.read().split("\n")
    at = text.index('name = "%s"' % name)
    return next(i + 1 for i in range(at, -1, -1) if text[i].strip() == "[[rule]]")


HOSTILE_TARGETS = [
    # quotes and backslashes that would close the JSON string and add a field
    b'/q","status":999,"forged":"1',
    b"/b\\\",\\\"forged\\\":1\\",
    # %-encoded control bytes stay encoded: they must not be decoded into the log
    b"/enc%0d%0a%00%1b%22x",
    # raw bytes 0x80-0xff (not valid UTF-8 on their own)
    b"/raw\x80\xfe\xff\xc3",
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS, ids=["quotes", "backslash", "encoded", "raw8bit"])
def test_hostile_url_cannot_break_or_forge_a_line(proxy, origin, target):
    full = b"http://127.0.0.1:%d" % origin.port + target
    req = b"GET " + full + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = raw_exchange(proxy.port, req)
    code = status_of(out)
    assert code in (200, 400), out[:200]
    # a clean request after it proves the hostile one made exactly one line
    via_proxy(proxy, origin.url("/after"))
    lines = log_lines(proxy, 2)
    assert len(lines) == 2, lines
    for line in lines:
        check_access_line(line)
    bad, after = lines
    assert after["url"] == origin.url("/after")
    assert bad["status"] == code
    assert "forged" not in bad
    if code == 200:
        # logged as sent, with invalid UTF-8 replaced, nothing decoded
        expected = full.decode("utf-8", errors="replace")
        assert bad["url"] == expected or bad["url"].replace("\ufffd", "") == expected.replace("\ufffd", "")
    else:
        assert bad["decision"] == "deny" or bad["error"], bad


GARBAGE = b"GET http://x/\x01\" HTTP/1.1\r\n\x00garbage\r\n\r\n"


def test_unparseable_request_still_logs_a_line(proxy):
    assert status_of(raw_exchange(proxy.port, GARBAGE)) == 400
    lines = log_lines(proxy, 1)
    assert len(lines) == 1
    check_access_line(lines[0])
    assert lines[0]["status"] == 400 and lines[0]["error"]
    assert lines[0]["bytes_out"] > 0


def test_unparseable_request_counts_bytes_in(proxy):
    raw_exchange(proxy.port, GARBAGE)
    assert log_lines(proxy, 1)[0]["bytes_in"] == len(GARBAGE)


def test_cache_hit_logs_the_allowing_rule(cache_proxy, origin):
    url = origin.url("/c/rule?size=100")
    via_proxy(cache_proxy, url)
    via_proxy(cache_proxy, url)
    miss, hit = log_lines(cache_proxy, 2)
    assert hit["cache"] == "HIT"
    assert (hit["rule"], hit["rule_where"]) == (miss["rule"], miss["rule_where"])


# ---------------------------------------------------------------- /metrics

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_value(text):
    if text in ("NaN", "+Inf", "-Inf"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError("bad sample value %r" % text)
    return float(text)


def parse_labels(text, pos):
    """Parses `{a="x",b="y"}` from text[pos] == '{'; returns (labels, next pos)."""
    labels = {}
    pos += 1
    while text[pos] != "}":
        m = LABEL_NAME.match(text, pos)
        assert m, "bad label name at %r" % text[pos:]
        name = m.group(0)
        pos = m.end()
        assert text[pos:pos + 2] == '="', "expected =\" in %r" % text
        pos += 2
        value = ""
        while text[pos] != '"':
            if text[pos] == "\\":
                esc = text[pos + 1]
                assert esc in '\\"n', "bad escape in %r" % text
                value += "\n" if esc == "n" else esc
                pos += 2
            else:
                assert text[pos] != "\n"
                value += text[pos]
                pos += 1
        pos += 1
        assert name not in labels, "duplicate label %s" % name
        labels[name] = value
        if text[pos] == ",":
            pos += 1
        else:
            assert text[pos] == "}", "expected , or } in %r" % text
    return labels, pos + 1


def parse_prometheus(text):
    """Strict text exposition format 0.0.4 parser.

    Returns {family: {"type", "help", "samples": {(name, labels tuple): value}}}.
    """
    assert text.endswith("\n"), "exposition must end with a newline"
    families = {}
    current = None
    for line in text.split("\n")[:-1]:
        assert line == line.strip() and line, "blank or padded line %r" % line
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if parts[1] not in ("HELP", "TYPE"):
                continue  # a plain comment
            assert len(parts) >= 3 and METRIC_NAME.fullmatch(parts[2]), line
            fam = families.setdefault(parts[2], {"type": None, "help": None, "samples": {}})
            if parts[1] == "TYPE":
                assert fam["type"] is None and not fam["samples"], "late/duplicate TYPE: " + line
                assert len(parts) == 4 and parts[3] in METRIC_TYPES, line
                fam["type"] = parts[3]
            else:
                assert fam["help"] is None, "duplicate HELP: " + line
                fam["help"] = parts[3] if len(parts) == 4 else ""
            current = parts[2]
            continue
        m = METRIC_NAME.match(line)
        assert m, "bad sample line %r" % line
        name, pos = m.group(0), m.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos)
        assert line[pos] == " ", "expected one space in %r" % line
        rest = line[pos + 1:].split(" ")
        assert 1 <= len(rest) <= 2, line
        value = parse_value(rest[0])
        if len(rest) == 2:
            assert re.fullmatch(r"-?\d+", rest[1]), "bad timestamp in %r" % line
        family = name
        if current and name != current:
            for suffix in ("_bucket", "_sum", "_count"):
                if name == current + suffix and families[current]["type"] in ("histogram", "summary"):
                    family = current
        assert family in families and families[family]["type"], "undeclared family: " + line
        assert family == current, "sample of %s outside its group" % name
        key = (name, tuple(sorted(labels.items())))
        assert key not in families[family]["samples"], "duplicate sample " + line
        if families[family]["type"] == "counter":
            assert value >= 0 and not math.isnan(value), line
        families[family]["samples"][key] = value
    return families


def metrics(proxy):
    code, headers, body = admin_get(proxy, "/metrics")
    assert code == 200
    assert headers["content-type"].startswith("text/plain"), headers["content-type"]
    assert "version=0.0.4" in headers["content-type"]
    return parse_prometheus(body.decode("utf-8"))


def total(fams, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    fam = fams.get(name)
    assert fam is not None, "no metric family " + name
    want = set(labels.items())
    return sum(v for (_, ls), v in fam["samples"].items() if want <= set(ls))


def test_prometheus_parser_is_strict():
    good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 3\n"
    assert total(parse_prometheus(good), "a_total", x='1"') == 3
    for bad in ["a 1\n",                                     # undeclared
                "# TYPE a counter\na{x=1} 1\n",               # unquoted label
                "# TYPE a counter\na 1\na 2\n",               # duplicate sample
                "# TYPE a gauge\na nan\n",                    # Go spells it NaN
                "# TYPE a gauge\na 1",                        # no final newline
                "# TYPE a gauge\n# TYPE b gauge\na 1\n"]:     # out of its group
        with pytest.raises((AssertionError, ValueError)):
            parse_prometheus(bad)


def test_metrics_counters_move(proxy, origin, denied_port):
    before = metrics(proxy)
    assert total(before, "portcullis_connection_limit") == MAX_CONNECTIONS
    for fam, data in before.items():
        assert data["help"], "family %s has no HELP" % fam
    n, size = 3, 12345
    for i in range(n):
        assert via_proxy(proxy, origin.url("/size/%d?i=%d" % (size, i))) == body_of_size(size)
    r = curl(["-x", proxy.url, "-o", "/dev/null", "-w", "%{http_code}",
              "http://127.0.0.1:%d/" % denied_port])
    assert r.stdout == b"403"

    def moved():
        m = metrics(proxy)
        return m if total(m, "portcullis_requests_total") - total(before, "portcullis_requests_total") >= n + 1 else None

    after = poll("request counters", moved)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("portcullis_requests_total") == n + 1
    assert delta("portcullis_requests_total", code_class="2xx") == n
    assert delta("portcullis_requests_total", code_class="4xx") == 1
    assert delta("portcullis_cache_results_total") == n + 1
    assert delta("portcullis_acl_denials_total", rule="no-forbidden-port") == 1
    assert delta("portcullis_acl_denials_total") == 1
    assert delta("portcullis_client_sent_bytes_total") >= n * size
    assert delta("portcullis_upstream_received_bytes_total") >= n * size
    assert delta("portcullis_client_received_bytes_total") > 0
    assert delta("portcullis_connections_total") >= n + 1
    assert total(after, "portcullis_build_info") == 1
    assert 0 <= total(after, "portcullis_cache_hit_ratio") <= 1
    # the writer thread batches lines: wait for them, then the counter agrees
    lines = log_lines(proxy, n + 1)
    poll("access lines counted", lambda: total(metrics(proxy), "portcullis_log_lines_total",
                                               log="access", outcome="written") == len(lines))


def test_promtool_accepts_metrics(proxy, origin, denied_port, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    via_proxy(proxy, origin.url("/x"))
    curl(["-x", proxy.url, "http://127.0.0.1:%d/" % denied_port])
    poll("a denial in /metrics",
         lambda: total(metrics(proxy), "portcullis_acl_denials_total") >= 1)
    code, _, body = admin_get(proxy, "/metrics")
    assert code == 200
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    # lint problems are reported on stdout/stderr even with rc 0 in some versions
    assert b"error" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr


# ---------------------------------------------------------------- /status

def test_status_json_has_figures_and_recent_requests(proxy, origin, denied_port):
    via_proxy(proxy, origin.url("/s1"))
    curl(["-x", proxy.url, "http://127.0.0.1:%d/" % denied_port])
    last = origin.url("/s2?last=1")
    via_proxy(proxy, last)
    st = poll("3 requests in /status", lambda: (lambda s: s if s["requests"]["total"] >= 3 else None)(
        status_json(proxy)))
    assert st["requests"]["total"] == 3
    assert st["requests"]["by_class"]["2xx"] == 2 and st["requests"]["by_class"]["4xx"] == 1
    assert st["connections"]["limit"] == MAX_CONNECTIONS
    assert st["connections"]["total"] >= 3
    assert isinstance(st["connections"]["active"], int)
    assert st["acl_denials"] == {"no-forbidden-port": 1}
    assert st["bytes"]["to_clients"] > 0 and st["bytes"]["from_upstream"] > 0
    assert RFC3339_MS.match(st["now"]) and RFC3339_MS.match(st["started"])
    assert isinstance(st["version"], str) and st["version"]
    assert 0 <= st["hit_ratio"] <= 1
    recent = st["recent"]
    assert [r["url"] for r in recent][-3:] == [origin.url("/s1"), "http://127.0.0.1:%d/" % denied_port, last]
    for r in recent:
        seq = r.pop("seq")
        assert type(seq) is int
        check_access_line(r)
    assert recent[-1]["status"] == 200 and recent[-2]["decision"] == "deny"
    assert st["logs"]["access"]["written"] >= 0


def test_admin_rejects_unknown_paths(proxy):
    assert admin_get(proxy, "/nope")[0] == 404
    assert admin_get(proxy, "/status", method="DELETE")[0] in (405, 501)


# ---------------------------------------------------------------- log reopen

def test_sigusr1_reopens_access_log_without_losing_lines(proxy, origin):
    path = os.path.join(proxy.tmp, "access.log")
    n1, n2 = 3, 4
    for i in range(n1):
        via_proxy(proxy, origin.url("/before/%d" % i))
    log_lines(proxy, n1)
    os.rename(path, path + ".1")
    seen = len(proxy.events)
    proxy.signal(signal.SIGUSR1)
    proxy.wait_event("logs_reopened", seen=seen)
    # the event announces the request; the writer thread reopens just after
    poll("access log reopened", lambda: status_json(proxy)["logs"]["access"]["reopens"] >= 1)
    for i in range(n2):
        via_proxy(proxy, origin.url("/after/%d" % i))
    new = log_lines(proxy, n2)
    old = read_log(path + ".1")
    assert [x["url"] for x in old] == [origin.url("/before/%d" % i) for i in range(n1)]
    assert [x["url"] for x in new] == [origin.url("/after/%d" % i) for i in range(n2)]
    for line in old + new:
        check_access_line(line)
    logs = status_json(proxy)["logs"]["access"]
    assert logs["reopen_failures"] == 0 and logs["dropped"] == 0 and logs["failed"] == 0


def test_failed_reopen_keeps_old_file_and_is_counted(proxy, origin):
    path = os.path.join(proxy.tmp, "access.log")
    via_proxy(proxy, origin.url("/one"))
    log_lines(proxy, 1)
    os.rename(path, path + ".1")
    os.mkdir(path)  # open(2) of the path now fails with EISDIR
    seen = len(proxy.events)
    proxy.signal(signal.SIGUSR1)
    proxy.wait_event("logs_reopened", seen=seen)
    poll("reopen failure counted",
         lambda: status_json(proxy)["logs"]["access"]["reopen_failures"] == 1)
    via_proxy(proxy, origin.url("/two"))
    # nothing lost: the old descriptor is kept when the new path cannot be opened
    lines = poll("2 lines in access.log.1",
                 lambda: (lambda l: l if len(l) >= 2 else None)(read_log(path + ".1")))
    assert [x["url"] for x in lines] == [origin.url("/one"), origin.url("/two")]
    assert status_json(proxy)["logs"]["access"]["reopens"] == 0


def test_event_log_lines_are_json(proxy, origin):
    seen = len(proxy.events)
    proxy.signal(signal.SIGUSR1)
    proxy.wait_event("logs_reopened", seen=seen)
    assert proxy.events, "no events"
    for ev in proxy.events:
        assert ev.get("event") != "text", ev  # the harness marks lines that are not JSON
        assert RFC3339_MS.match(ev["ts"]), ev
        assert ev["level"] in ("debug", "info", "warn", "error"), ev
    ready = next(ev for ev in proxy.events if ev["event"] == "ready")
    assert ready["admin"] == proxy.admin


def test_reloads_show_in_events_and_metrics(proxy):
    def reload_and_wait(event):
        seen = len(proxy.events)
        proxy.signal(signal.SIGHUP)
        return proxy.wait_event(event, seen=seen)

    reload_and_wait("reload")
    m = metrics(proxy)
    assert total(m, "portcullis_reloads_total", outcome="success") == 1
    assert total(m, "portcullis_config_last_reload_successful") == 1
    with open(proxy.config_path, "a") as f:
        f.write("\n[no_such_section]\nx = 1\n")
    failed = reload_and_wait("reload_failed")
    assert failed["level"] == "error"
    m = metrics(proxy)
    assert total(m, "portcullis_reloads_total", outcome="failure") == 1
    assert total(m, "portcullis_config_last_reload_successful") == 0
    reloads = status_json(proxy)["reloads"]
    assert {k: reloads[k] for k in ("success", "failure", "last_ok")} == \
        {"success": 1, "failure": 1, "last_ok": False}
    assert "no_such_section" in reloads["last_error"]


# ---------------------------------------------------------------- status page

EXTERNAL_URL = re.compile(rb"""(?:src|href|url\(|@import|fetch\()\s*=?\s*["']?\s*(?:https?:)?//""", re.I)


def test_status_page_is_self_contained_html(proxy):
    code, headers, body = admin_get(proxy, "/")
    assert code == 200
    assert headers["content-type"].startswith("text/html")
    assert b"<script" in body and b"</html>" in body
    assert not re.search(rb"https?://", body), re.search(rb".{40}https?://.{40}", body)
    assert not EXTERNAL_URL.search(body)
    csp = headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"]


def chromium(tmp_path, args, url, deadline=40):
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium not installed (Debian package chromium)")
    profile = tmp_path / ("chromium-profile-%d" % len(list(tmp_path.glob("chromium-profile-*"))))
    r = subprocess.run([exe] + CHROMIUM_FLAGS + ["--user-data-dir=%s" % profile] + args + [url],
                       capture_output=True, timeout=deadline, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    return r


def console_problems(stderr):
    """Console messages and page errors Chromium logged for the page."""
    out = []
    for line in stderr.decode(errors="replace").splitlines():
        if "CONSOLE" in line or "Uncaught" in line or "Content Security Policy" in line:
            out.append(line)
    return out


def test_console_check_sees_page_errors(tmp_path):
    """The console check below is only worth something if Chromium reports."""
    page = tmp_path / "broken.html"
    page.write_text('<div id="x">static</div><script>document.getElementById("x")'
                    '.textContent = "js-ran"; null.oops();</script>')
    r = chromium(tmp_path, ["--dump-dom"], page.as_uri())
    assert b"js-ran" in r.stdout
    problems = console_problems(r.stderr)
    assert len(problems) == 1 and "Uncaught TypeError" in problems[0], problems


def make_traffic(proxy, origin, denied_port, hits):
    url = origin.url("/c/page?size=%d" % (256 * 1024))
    via_proxy(proxy, url)
    for _ in range(hits):
        via_proxy(proxy, url)
    for i in range(3):
        via_proxy(proxy, origin.url("/size/%d" % (5000 * (i + 1))))
    curl(["-x", proxy.url, "http://127.0.0.1:%d/admin" % denied_port])
    via_proxy(proxy, origin.url("/size/1000"), ["-p"])
    expect = 1 + hits + 3 + 1 + 1
    return poll("requests in /status", lambda: (lambda s: s if s["requests"]["total"] >= expect else None)(
        status_json(proxy)))


def test_status_page_renders_in_chromium(cache_proxy, origin, denied_port, tmp_path):
    st = make_traffic(cache_proxy, origin, denied_port, hits=4)
    r = chromium(tmp_path, ["--dump-dom"], "http://%s/" % cache_proxy.admin)
    dom = r.stdout.decode()
    # Only the script fills these in: the page's JS ran and read /status.
    assert '<span id="state" class="">live</span>' in dom, dom[:2000]
    shown = re.search(r'<div class="k">requests</div><div class="v">([\d,]+)</div>', dom)
    assert shown, dom[:3000]
    assert int(shown.group(1).replace(",", "")) == st["requests"]["total"]
    assert '<div class="k">acl denials</div><div class="v">1</div>' in dom
    assert '<td class="hit">HIT</td>' in dom
    assert "no-forbidden-port" in dom
    assert "version " + st["version"] in dom
    assert console_problems(r.stderr) == []


def test_status_page_screenshot(cache_proxy, origin, denied_port, tmp_path):
    """Renders a screenshot; with PORTCULLIS_STATUS_SCREENSHOT=path it is
    also copied there (how packaging/screenshots/status-page.png is made)."""
    make_traffic(cache_proxy, origin, denied_port, hits=6)
    shot = tmp_path / "status-page.png"
    r = chromium(tmp_path, ["--screenshot=%s" % shot, "--window-size=1200,900"],
                 "http://%s/" % cache_proxy.admin)
    assert console_problems(r.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert 10_000 < len(data) < 300_000, len(data)
    dest = os.environ.get("PORTCULLIS_STATUS_SCREENSHOT")
    if dest:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(shot, dest)
