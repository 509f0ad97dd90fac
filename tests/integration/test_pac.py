"""The generated PAC file (issue #18 item 4): served at /proxy.pac and
/wpad.dat to the [pac] clients only, printed by `portcullis pac`, following
reloads, and evaluated by a real JavaScript engine (node) against a table of
URLs the way a browser runs it."""
import json
import os
import shutil
import signal
import socket
import subprocess

import pytest

from harness import BIN, Proxy, Reader, get

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node") or shutil.which("nodejs")

PROXIES = "HTTPS proxy.school.example:3130; PROXY proxy.school.example:3128"

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
workers = 1

[log]
events = "-"

[admin]
listen = "127.0.0.1:0"

[sources]
classrooms = ["127.0.0.1/32", "10.1.0.0/16"]

[destinations]
web = {{ hosts = ["*"], ports = [80, 443] }}
printers = {{ cidrs = ["192.168.7.0/24"] }}
intranet = {{ hosts = ["*.school.example", "wiki.local.example"], cidrs = ["10.50.0.0/16", "fd00:1::/32"] }}

[[rule]]
name = "pupils"
allow = {{ from = "classrooms", to = ["web", "printers"] }}

[pac]
listen = ["127.0.0.1:0"]
clients = ["classrooms"]
proxies = [{proxies}]
direct = ["intranet"]
"""

DEFAULT_PROXIES = '"https://proxy.school.example:3130", "http://proxy.school.example:3128"'

# url, host (as browsers pass it), expected answer
TABLE = [
    ("http://www.example.com/", "www.example.com", PROXIES),
    ("https://www.example.com/login", "www.example.com", PROXIES),
    ("ws://chat.example.com/", "chat.example.com", PROXIES),
    ("ftp://ftp.example.com/pub/", "ftp.example.com", "DIRECT"),  # not carried by the proxy
    ("http://WWW.Example.COM./", "WWW.Example.COM.", PROXIES),
    # names without a dot: the intranet
    ("http://intranet/", "intranet", "DIRECT"),
    ("http://localhost:8080/", "localhost", "DIRECT"),
    # [pac] direct: "*.school.example" is the name and its subdomains ...
    ("http://school.example/", "school.example", "DIRECT"),
    ("http://moodle.year7.school.example/", "moodle.year7.school.example", "DIRECT"),
    ("http://notschool.example/", "notschool.example", PROXIES),
    # ... a bare name only itself
    ("http://wiki.local.example/", "wiki.local.example", "DIRECT"),
    ("http://old.wiki.local.example/", "old.wiki.local.example", PROXIES),
    # address literals: direct ranges, special ranges, opened ranges
    ("http://10.50.3.4/", "10.50.3.4", "DIRECT"),
    ("http://192.168.7.10/", "192.168.7.10", PROXIES),  # opened by "printers"
    ("http://192.168.8.10/", "192.168.8.10", "DIRECT"),  # private: the proxy refuses it
    ("http://127.0.0.1:631/", "127.0.0.1", "DIRECT"),
    ("http://169.254.169.254/", "169.254.169.254", "DIRECT"),
    ("http://192.0.0.9/", "192.0.0.9", PROXIES),  # globally reachable inside 192.0.0.0/24
    ("http://8.8.8.8/", "8.8.8.8", PROXIES),
    ("http://300.1.1.1/", "300.1.1.1", PROXIES),  # not an address: a (strange) name
    ("http://[fd00:1::5]/", "fd00:1::5", "DIRECT"),  # IPv6 in a direct range
    ("http://[fd00:1::5]/", "[fd00:1::5]", "DIRECT"),  # the same, as some browsers pass it
    ("http://[fd00:2::5]/", "fd00:2::5", "DIRECT"),  # unique-local: refused by the proxy
    ("http://[2001:db8::1]/", "2001:db8::1", "DIRECT"),  # documentation range
    ("http://[::1]/", "::1", "DIRECT"),
    ("http://[::ffff:10.50.0.1]/", "::ffff:10.50.0.1", "DIRECT"),
    ("http://[2606:4700::1111]/", "2606:4700::1111", PROXIES),
    ("http://[2606:4700:0:0:0:0:0:1111]/", "2606:4700:0:0:0:0:0:1111", PROXIES),
]


def fetch(address, path, source="127.0.0.1"):
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))
    with sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: wpad.school.example\r\nConnection: close\r\n\r\n"
                     % path.encode())
        return Reader(sock, 10).read_response()


def evaluate(tmp_path, pac_text, table):
    pac = tmp_path / "proxy.pac"
    pac.write_text(pac_text)
    rows = tmp_path / "table.json"
    rows.write_text(json.dumps([[url, host] for url, host, *_ in table]))
    out = subprocess.run([NODE, os.path.join(HERE, "pac", "evaluate.js"), str(pac), str(rows)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def pac_proxy(tmp_path):
    if NODE is None:
        pytest.fail("node is not installed (packaging/build-deps.sh --test installs nodejs)")
    p = Proxy(CONFIG.format(proxies=DEFAULT_PROXIES), tmpdir=str(tmp_path))
    yield p
    p.finish()


def pac_address(p):
    ready = p.wait_event("ready")
    assert ready["pac"], ready
    return ready["pac"].split()[0]


def test_served_pac_sends_each_url_where_the_rules_say(pac_proxy, tmp_path):
    r = fetch(pac_address(pac_proxy), "/proxy.pac")
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/x-ns-proxy-autoconfig"
    answers = evaluate(tmp_path, r.body.decode(), TABLE)
    wrong = [(url, host, want, got) for (url, host, want), got in zip(TABLE, answers) if got != want]
    assert not wrong, wrong


def test_wpad_dat_and_the_command_print_the_same_file(pac_proxy):
    address = pac_address(pac_proxy)
    pac = fetch(address, "/proxy.pac").body
    assert fetch(address, "/wpad.dat").body == pac
    out = subprocess.run([BIN, "pac", "-c", pac_proxy.config_path], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == pac


def test_only_the_named_client_sets_get_it(pac_proxy):
    address = pac_address(pac_proxy)
    seen = len(pac_proxy.events)
    r = fetch(address, "/proxy.pac", source="127.0.0.2")
    assert r.status == 403 and b"FindProxyForURL" not in r.body
    refused = pac_proxy.wait_event("pac_refused", seen=seen)
    assert refused["client"] == "127.0.0.2"
    assert fetch(address, "/etc/passwd").status == 404


def test_the_pac_listener_is_never_a_destination(pac_proxy):
    r = get(pac_proxy.port, "http://%s/proxy.pac" % pac_address(pac_proxy))
    assert r.status == 403
    assert b"hard:self" in r.body or b"proxy itself" in r.body


def test_a_reload_changes_the_file_served(pac_proxy, tmp_path):
    address = pac_address(pac_proxy)
    with open(pac_proxy.config_path, "w") as f:
        f.write(CONFIG.format(proxies='"http://proxy2.school.example:8080"')
                + "fallback_direct = true\n")
    seen = len(pac_proxy.events)
    pac_proxy.signal(signal.SIGHUP)
    reload = pac_proxy.wait_event("reload", seen=seen)
    assert "fallback_direct" in reload["warnings"]
    answers = evaluate(tmp_path, fetch(address, "/proxy.pac").body.decode(),
                       [("http://www.example.com/", "www.example.com")])
    assert answers == ["PROXY proxy2.school.example:8080; DIRECT"]


def test_a_wildcard_listen_needs_named_proxies(tmp_path):
    text = CONFIG.format(proxies=DEFAULT_PROXIES).replace('listen = ["127.0.0.1:0"]\nworkers',
                                                          'listen = ["0.0.0.0:0"]\nworkers')
    bad = "\n".join(line for line in text.splitlines() if not line.startswith("proxies"))
    path = tmp_path / "wild.toml"
    path.write_text(bad)
    out = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1
    assert "[pac] needs 'proxies'" in out.stderr and "wild.toml:" in out.stderr
